//! The state every connection shares: the video pipeline, the HID state
//! machine, the demo target, the images, and the status the UI shows. The
//! event loop owns one `App`; connections borrow it while they run.

use std::time::Instant;

use crate::config::Config;
use crate::demo::DemoTarget;
use crate::hid::{layout, Hid};
use crate::json;
use crate::video::{FrameSource, Pipeline};

pub struct App {
    pub config: Config,
    /// The source, its newest frame and who watches it.
    pub video: Pipeline,
    pub hid: Hid,
    /// Whether a host has configured kv's gadget, with `--gadget`: the loop
    /// reads it and feeds it to `hid`.
    pub udc: Option<crate::gadget::udc::UdcWatch>,
    /// The USB network link, with `--ethernet`.
    pub net: Option<crate::net::UsbNet>,
    pub demo: Option<DemoTarget>,
    /// The images folder and the drive, with `--images`.
    pub media: Option<crate::media::Images>,
    /// Credentials, sessions and failed-login delays (auth).
    pub auth: crate::auth::Gate,
    /// The UI's macros, kept in `--state-dir`.
    pub macros: crate::macros::Macros,
    /// Wake-on-LAN: the MAC to wake and where packets go.
    pub wol: crate::net::wol::Wol,
    /// The ATX buttons and LEDs, with `--atx-*` (simulated in `--demo`).
    pub atx: Option<crate::atx::Atx>,
    /// Each video viewer's kind and lag, as the loop found them this turn
    /// (for `/metrics`; at most `--max-connections` entries).
    pub viewer_lags: Vec<crate::metrics::ViewerLag>,
    /// The target's serial console, with `--serial`.
    pub serial: Option<crate::serial::Serial>,
    /// The audit log in `--state-dir`: logins, media, accounts, control.
    pub audit: crate::audit::Audit,
    /// Second-factor enrolments under way and wrong codes per account.
    pub factors: crate::auth::factors::Factors,
    /// Who is connected (`/ws`) and who is in control.
    pub control: crate::control::Control,
}

impl App {
    pub fn new(
        config: Config,
        source: Box<dyn FrameSource>,
        hid: Hid,
        demo: Option<DemoTarget>,
        now: Instant,
    ) -> App {
        App {
            auth: crate::auth::Gate::new(config.credentials.clone(), now),
            macros: crate::macros::Macros::load(&config.state_dir),
            wol: crate::net::wol::Wol::new(
                config.wol_mac,
                config.wol_to.clone(),
                &config.state_dir,
            ),
            audit: crate::audit::Audit::new(&config.state_dir),
            factors: Default::default(),
            control: crate::control::Control::new(config.control),
            config,
            video: Pipeline::new(source, now),
            hid,
            udc: None,
            net: None,
            demo,
            media: None,
            atx: None,
            viewer_lags: Vec::new(),
            serial: None,
        }
    }

    /// The status object of `/api/status` and of the WebSocket `status` message.
    pub fn status_json(&mut self, now: Instant) -> String {
        let network = self
            .net
            .as_ref()
            .map_or_else(|| "null".into(), crate::net::UsbNet::status_json);
        let atx = self
            .atx
            .as_ref()
            .map_or_else(|| "null".into(), crate::atx::Atx::status_json);
        json::Object::new()
            .str("version", env!("CARGO_PKG_VERSION"))
            .bool("demo", self.demo.is_some())
            .raw("video", &self.video.status_json(now))
            .raw("hid", &self.hid_json())
            .raw("network", &network)
            .raw("atx", &atx)
            .raw(
                "serial",
                &self
                    .serial
                    .as_ref()
                    .map_or_else(|| "null".into(), crate::serial::Serial::status_json),
            )
            .finish()
    }

    /// The `hid` object of the status: whether the host reads reports, the
    /// keyboard LEDs it set, and the layouts.
    fn hid_json(&self) -> String {
        let hid = self.hid.status();
        let led = |bit: u8| hid.leds & bit != 0;
        let leds = json::Object::new()
            .bool("num", led(1))
            .bool("caps", led(2))
            .bool("scroll", led(4))
            .finish();
        json::Object::new()
            .bool("online", hid.online)
            .opt_str("udc", hid.udc.as_deref())
            .raw("leds", &leds)
            .str("layout", hid.layout)
            .num("paste_queued", hid.paste_queued)
            .num("jiggle_seconds", hid.jiggle.map_or(0, |d| d.as_secs()))
            .num("paste_key_ms", hid.paste_key.as_millis())
            .raw(
                "layouts",
                &json::array(layout::NAMES.iter().map(|n| json::quote(n))),
            )
            .finish()
    }
}
