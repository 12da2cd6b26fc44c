//! QR codes as SVG, for a phone to scan from the page: the TOTP enrolment
//! URI, share links. The encoding is the `qrcodegen` crate's; this draws it.

use std::fmt::Write;

use qrcodegen::{QrCode, QrCodeEcc};

/// Light modules around the code, which scanners need to find it (the
/// standard's quiet zone).
const QUIET_ZONE: i32 = 4;

/// `text` as a QR code in SVG: dark modules on white, one square path,
/// drawn with crisp edges at any size. An error when `text` is too long for
/// the largest QR code.
pub fn svg(text: &str) -> Result<String, String> {
    // Medium error correction: a phone camera aimed at a screen loses little.
    let code = QrCode::encode_text(text, QrCodeEcc::Medium)
        .map_err(|_| format!("{} bytes are too long for a QR code", text.len()))?;
    let size = code.size();
    let side = size + 2 * QUIET_ZONE;
    let mut path = String::new();
    for y in 0..size {
        for x in 0..size {
            if code.get_module(x, y) {
                let _ = write!(path, "M{} {}h1v1h-1z", x + QUIET_ZONE, y + QUIET_ZONE);
            }
        }
    }
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {side} {side}\" \
         shape-rendering=\"crispEdges\"><rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/>\
         <path fill=\"#000\" d=\"{path}\"/></svg>"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Rasterises the SVG with librsvg and reads it back with zbar, two
    /// independent programs (Debian: librsvg2-bin, zbar-tools).
    fn decode(svg: &str) -> String {
        let dir = std::env::temp_dir().join(format!("kv-qr-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (svg_path, png_path) = (dir.join("code.svg"), dir.join("code.png"));
        std::fs::write(&svg_path, svg).unwrap();
        let raster = Command::new("rsvg-convert")
            .args(["-w", "400", "-o"])
            .args([&png_path, &svg_path])
            .status()
            .expect("run rsvg-convert: the QR test needs librsvg2-bin (apt install librsvg2-bin)");
        assert!(raster.success(), "rsvg-convert refused the SVG:\n{svg}");
        let out = Command::new("zbarimg")
            .args(["--raw", "-q"])
            .arg(&png_path)
            .output()
            .expect("run zbarimg: the QR test needs zbar-tools (apt install zbar-tools)");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(out.status.success(), "zbar found no QR code in:\n{svg}");
        String::from_utf8(out.stdout)
            .unwrap()
            .trim_end_matches('\n')
            .to_string()
    }

    #[test]
    fn test_svg_decodes_back() {
        let uri = "otpauth://totp/kv:ann%20b?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=kv";
        let svg = svg(uri).unwrap();
        assert!(svg.starts_with("<svg ") && svg.contains("crispEdges") && svg.contains("#fff"));
        assert_eq!(decode(&svg), uri);
    }

    #[test]
    fn test_svg_quiet_zone_and_too_long() {
        let svg = svg("kv").unwrap();
        // Version 1 is 21 modules; 4 more on each side.
        assert!(svg.contains("viewBox=\"0 0 29 29\""), "{svg}");
        assert!(
            svg.contains("d=\"M4 4h1v1h-1z"),
            "the finder's corner sits inside the quiet zone"
        );
        assert!(super::svg(&"x".repeat(5000))
            .unwrap_err()
            .contains("too long"));
    }
}
