//! The frame viewers get while there is no picture: the reason ("no signal",
//! "no device") drawn at the current size, once a second, so streams stay open
//! and the browser shows why it is dark. Rendered once per reason and size.

use std::time::{Duration, Instant};

use super::{Frame, Mode, Signal};
use crate::render::{text_height, text_width, Canvas, Rgb};

/// Placeholder frames per second: enough to show the reason, cheap to send.
const EVERY: Duration = Duration::from_secs(1);

pub struct Placeholder {
    /// The reason and size the cached JPEG shows.
    shown: Option<(Signal, u32, u32)>,
    jpeg: Box<[u8]>,
    next: Option<Instant>,
}

impl Placeholder {
    pub fn new() -> Placeholder {
        Placeholder {
            shown: None,
            jpeg: Box::default(),
            next: None,
        }
    }

    /// Starts (signal not live) or stops (live) the placeholder frames.
    pub fn update(&mut self, signal: &Signal, streaming: bool, now: Instant) {
        let wanted = streaming && *signal != Signal::Live;
        match (wanted, self.next) {
            (true, None) => self.next = Some(now),
            (false, Some(_)) => self.next = None,
            _ => {}
        }
    }

    pub fn poll_at(&self) -> Option<Instant> {
        self.next
    }

    /// The placeholder frame if one is due.
    pub fn poll(
        &mut self,
        signal: &Signal,
        mode: Mode,
        device: &str,
        now: Instant,
    ) -> Option<Frame> {
        if self.next.is_none_or(|t| now < t) {
            return None;
        }
        self.next = Some(now + EVERY);
        let key = (signal.clone(), mode.width, mode.height);
        if self.shown.as_ref() != Some(&key) {
            self.jpeg = render(signal, mode, device).into();
            self.shown = Some(key);
        }
        Some(Frame::new(self.jpeg.clone(), mode.width, mode.height, now))
    }
}

fn render(signal: &Signal, mode: Mode, device: &str) -> Vec<u8> {
    let mut canvas = Canvas::new(mode.width, mode.height, Rgb::BLACK);
    let (title, hint) = match signal {
        Signal::NoDevice => (
            "NO DEVICE",
            "Capture device unplugged - waiting for it to come back",
        ),
        Signal::NoSignal => (
            "NO SIGNAL",
            "The target's screen sends no picture (off, asleep or unplugged)",
        ),
        Signal::Live => ("", ""),
    };
    let big = (mode.width / 160).clamp(2, 12);
    let small = (big / 3).max(1);
    let center = |text: &str, scale: u32| (mode.width as i32 - text_width(text, scale) as i32) / 2;
    // The title just above the middle; hint and device below it.
    let (title_h, line_h) = (
        text_height(title, big) as i32,
        text_height(hint, small) as i32,
    );
    let y = mode.height as i32 / 2 - title_h;
    canvas.draw_text(center(title, big), y, title, big, Rgb::YELLOW);
    let below = [(hint, Rgb::WHITE), (device, Rgb::DARK_GREY)];
    for (i, (text, color)) in below.into_iter().enumerate() {
        canvas.draw_text(
            center(text, small),
            y + title_h + (i as i32 + 1) * line_h,
            text,
            small,
            color,
        );
    }
    canvas.encode_jpeg(75)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODE: Mode = Mode {
        width: 320,
        height: 240,
        fps: 30,
    };

    #[test]
    fn test_no_signal_emits_once_a_second() {
        let t0 = Instant::now();
        let mut p = Placeholder::new();
        p.update(&Signal::NoSignal, true, t0);
        let f = p
            .poll(&Signal::NoSignal, MODE, "/dev/video0", t0)
            .expect("first frame at once");
        assert_eq!((f.width, f.height), (320, 240));
        assert_eq!(&f.jpeg[..2], &[0xff, 0xd8]);
        assert!(p
            .poll(
                &Signal::NoSignal,
                MODE,
                "/dev/video0",
                t0 + Duration::from_millis(500)
            )
            .is_none());
        assert!(p
            .poll(&Signal::NoSignal, MODE, "/dev/video0", t0 + EVERY)
            .is_some());
    }

    #[test]
    fn test_live_signal_stops_placeholder() {
        let t0 = Instant::now();
        let mut p = Placeholder::new();
        p.update(&Signal::NoDevice, true, t0);
        assert_eq!(p.poll_at(), Some(t0));
        p.update(&Signal::Live, true, t0);
        assert_eq!(p.poll_at(), None);
        p.update(&Signal::NoDevice, false, t0);
        assert_eq!(p.poll_at(), None, "nobody watching: nothing to draw");
    }
}
