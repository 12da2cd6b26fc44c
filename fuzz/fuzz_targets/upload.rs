//! An image upload as a client may send it: the name from the request path
//! (percent-encoded), an offset to resume from, and the body. Whatever comes
//! in, `media::name::parse` never lets a name out of the images folder, and
//! an upload through `Images` leaves only checked names in it, with exactly
//! the bytes sent.
#![no_main]

use std::path::PathBuf;

use kv::media::{name, Images};
use libfuzzer_sys::fuzz_target;

/// This process's images folder, emptied after every input.
fn folder() -> PathBuf {
    std::env::temp_dir().join(format!("kv-fuzz-upload-{}", std::process::id()))
}

fuzz_target!(|data: &[u8]| {
    // flags, then the raw name up to a newline, then the body.
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (raw, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let Ok(raw) = std::str::from_utf8(raw) else {
        return;
    };
    let Ok(image) = name::parse(raw) else {
        return;
    };
    assert!(name::check(&image).is_ok());
    assert!(!image.contains(['/', '\\']) && !image.starts_with('.'));
    assert!(image.len() <= name::MAX_LEN);

    let dir = folder();
    let mut images = Images::open(&dir, Some(1 << 20), None).expect("temp images folder");
    let offset = match flags % 3 {
        0 => 0,
        1 => 1,
        _ => body.len() as u64,
    };
    let chunk = usize::from(flags >> 2).max(1);
    let overwrite = flags & 0x80 != 0;
    if let Ok(mut upload) = images.begin_upload(&image, offset, body.len() as u64, overwrite) {
        for piece in body.chunks(chunk) {
            if upload.write(piece).is_err() {
                break;
            }
        }
        if images.finish(upload).is_ok() && offset == 0 {
            let stored = std::fs::read(dir.join(&image)).expect("finished image");
            assert_eq!(stored, body, "the image holds exactly the body");
        }
    }
    for entry in std::fs::read_dir(&dir).expect("images folder").flatten() {
        let file = entry.file_name();
        let file = file.to_string_lossy();
        assert!(
            file == ".partial" || name::check(&file).is_ok(),
            "{file:?} appeared in the images folder"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
});
