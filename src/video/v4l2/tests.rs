//! The capture state machine against the fake kernel, on virtual time;
//! grouped by the state a test starts in (`test_<state>_<event>`).

use std::path::Path;
use std::time::{Duration, Instant};

use super::fake::{capture, device, jpeg, mjpeg_dongle, mode, open, world, yuyv_camera};
use super::fake::{FakeDevice, FakeHost, Shared, CAPTURE_FD, WATCH_FD};
use super::{V4l2Source, BUFFER_COUNT, NO_SIGNAL_AFTER, RETRY_EVERY};
use crate::sys::inotify::Change;
use crate::video::{jpeg, FrameSource, Signal};

#[test]
fn test_idle_set_streaming_registers_capture_fd() {
    let now = Instant::now();
    let w = world(vec![("/dev/video0", mjpeg_dongle("dongle"))]);
    let mut source = open(&w, None, mode(1280, 720, 30), now).unwrap();
    assert_eq!(source.poll_at(), None);
    source.set_streaming(true, now);
    assert!(device(&w, "/dev/video0").streaming);
    assert_eq!(source.fds(), [WATCH_FD, CAPTURE_FD]);
    assert_eq!(source.poll_at(), Some(now + NO_SIGNAL_AFTER));
    source.set_streaming(false, now);
    assert!(!device(&w, "/dev/video0").streaming);
    assert_eq!(source.fds(), [WATCH_FD]);
    assert_eq!(source.poll_at(), None);
}

#[test]
fn test_streaming_drain_keeps_newest_and_requeues_all() {
    let now = Instant::now();
    let w = world(vec![("/dev/video0", mjpeg_dongle("dongle"))]);
    let mut source = open(&w, None, mode(1280, 720, 30), now).unwrap();
    source.set_streaming(true, now);
    // Many rounds of several frames: were a buffer lost, the fake driver
    // would starve (it only fills queued buffers).
    for round in 0..10u16 {
        for i in 0..3u16 {
            capture(&w, "/dev/video0", jpeg(16 + 8 * i, 8 + round));
        }
        let at = now + Duration::from_millis(u64::from(round) * 100);
        let frame = source.poll(at).expect("a frame each round");
        assert_eq!((frame.width, frame.height), (32, u32::from(8 + round)));
        assert_eq!(&*frame.jpeg, &jpeg(32, 8 + round)[..]);
        assert_eq!(frame.captured, at);
        assert_eq!(
            device(&w, "/dev/video0").queued.len(),
            BUFFER_COUNT as usize
        );
    }
    assert!(source.poll(now + Duration::from_secs(1)).is_none());
}

#[test]
fn test_streaming_trims_padding_drops_broken_frames() {
    let now = Instant::now();
    let w = world(vec![("/dev/video0", mjpeg_dongle("dongle"))]);
    let mut source = open(&w, None, mode(1280, 720, 30), now).unwrap();
    source.set_streaming(true, now);
    let mut padded = jpeg(24, 16);
    let whole = padded.clone();
    padded.resize(24 * 16 * 4, 0);
    capture(&w, "/dev/video0", padded);
    assert_eq!(&*source.poll(now).unwrap().jpeg, &whole[..]);
    // Not the mode's size: noted (and logged) once.
    assert_eq!(source.odd_size, Some((24, 16)));
    capture(&w, "/dev/video0", whole[..whole.len() - 10].to_vec());
    assert!(source.poll(now).is_none());
    capture(&w, "/dev/video0", vec![0xFF, 0xD8, 0xFF, 0xD9]);
    assert!(source.poll(now).is_none());
    assert_eq!(
        device(&w, "/dev/video0").queued.len(),
        BUFFER_COUNT as usize
    );
    assert_eq!(source.info().signal, Signal::Live);
}

#[test]
fn test_streaming_silence_closes_device_then_live() {
    let now = Instant::now();
    let w = world(vec![("/dev/video0", mjpeg_dongle("dongle"))]);
    let mut source = open(&w, None, mode(1280, 720, 30), now).unwrap();
    source.set_streaming(true, now);
    assert!(source.poll(now + Duration::from_millis(1999)).is_none());
    assert_eq!(source.info().signal, Signal::Live);
    let silent = now + NO_SIGNAL_AFTER;
    assert!(source.poll(silent).is_none());
    assert_eq!(source.info().signal, Signal::NoSignal);
    // Closed, so its driver could be reloaded; status still names it.
    assert!(!device(&w, "/dev/video0").streaming);
    assert_eq!(source.fds(), [WATCH_FD]);
    assert_eq!(source.info().device, "/dev/video0");
    assert_eq!(source.poll_at(), Some(silent + RETRY_EVERY));

    // Opened again, still silent: no signal still, closed again later.
    let reopened = silent + RETRY_EVERY;
    assert!(source.poll(reopened).is_none());
    assert!(device(&w, "/dev/video0").streaming);
    assert_eq!(source.info().signal, Signal::NoSignal);
    assert_eq!(source.poll_at(), Some(reopened + NO_SIGNAL_AFTER));

    // The frame the driver kept from before the reopen is not live.
    capture(&w, "/dev/video0", jpeg(16, 16));
    w.borrow_mut()
        .devices
        .get_mut(Path::new("/dev/video0"))
        .unwrap()
        .stale = 1;
    assert!(source.poll(reopened + Duration::from_millis(500)).is_none());
    assert_eq!(source.info().signal, Signal::NoSignal);
    capture(&w, "/dev/video0", jpeg(16, 16));
    let later = reopened + Duration::from_secs(1);
    assert!(source.poll(later).is_some());
    assert_eq!(source.info().signal, Signal::Live);
    assert_eq!(source.poll_at(), Some(later + NO_SIGNAL_AFTER));
}

#[test]
fn test_streaming_silent_then_removed_no_device() {
    let now = Instant::now();
    let w = world(vec![("/dev/video0", mjpeg_dongle("dongle"))]);
    let mut source = open(&w, None, mode(1280, 720, 30), now).unwrap();
    source.set_streaming(true, now);
    source.poll(now + NO_SIGNAL_AFTER);
    assert_eq!(source.info().signal, Signal::NoSignal);
    w.borrow_mut().devices.remove(Path::new("/dev/video0"));
    w.borrow_mut()
        .changes
        .push(Change::Deleted("video0".into()));
    source.poll(now + NO_SIGNAL_AFTER + Duration::from_millis(100));
    assert_eq!(source.info().signal, Signal::NoDevice);
    assert_eq!(source.info().device, "/dev/video0");
}

#[test]
fn test_streaming_unplug_then_replug_as_other_node_resumes() {
    let now = Instant::now();
    let w = world(vec![("/dev/video0", mjpeg_dongle("dongle"))]);
    let mut source = open(&w, None, mode(1280, 720, 30), now).unwrap();
    source.set_streaming(true, now);
    device(&w, "/dev/video0").unplugged = true;
    capture(&w, "/dev/video0", jpeg(16, 16));
    assert!(source.poll(now).is_none());
    assert_eq!(source.info().signal, Signal::NoDevice);
    assert_eq!(source.info().device, "/dev/video0");
    assert_eq!(source.fds(), [WATCH_FD]);
    assert_eq!(source.poll_at(), Some(now + RETRY_EVERY));

    // The dongle comes back as /dev/video2; inotify says so.
    let t = now + Duration::from_millis(500);
    w.borrow_mut().devices.remove(Path::new("/dev/video0"));
    w.borrow_mut()
        .devices
        .insert("/dev/video2".into(), mjpeg_dongle("dongle"));
    w.borrow_mut()
        .changes
        .push(Change::Created("video2".into()));
    capture(&w, "/dev/video2", jpeg(16, 16));
    let frame = source.poll(t).expect("streaming resumed on the new node");
    assert_eq!(frame.width, 16);
    let info = source.info();
    assert_eq!(
        (info.device.as_str(), info.signal),
        ("/dev/video2", Signal::Live)
    );
    assert_eq!(info.mode, mode(1280, 720, 30));
    assert_eq!(source.fds(), [WATCH_FD, CAPTURE_FD]);
}

#[test]
fn test_idle_node_deleted_no_device_then_periodic_rescan() {
    let now = Instant::now();
    let w = world(vec![("/dev/video0", mjpeg_dongle("dongle"))]);
    let mut source = open(&w, None, mode(1280, 720, 30), now).unwrap();
    w.borrow_mut().devices.remove(Path::new("/dev/video0"));
    w.borrow_mut()
        .changes
        .push(Change::Deleted("video0".into()));
    source.poll(now);
    assert_eq!(source.info().signal, Signal::NoDevice);
    // Nothing yet at the next retry; the device returns without an event
    // (udev fixed its permissions later, say) and the retry finds it.
    source.poll(now + RETRY_EVERY);
    assert_eq!(source.poll_at(), Some(now + RETRY_EVERY * 2));
    w.borrow_mut()
        .devices
        .insert("/dev/video0".into(), mjpeg_dongle("dongle"));
    source.poll(now + RETRY_EVERY * 2);
    assert_eq!(source.info().signal, Signal::Live);
    assert!(!device(&w, "/dev/video0").streaming, "nobody watches");
}

#[test]
fn test_streaming_set_mode_restarts_same_source() {
    let now = Instant::now();
    let w = world(vec![("/dev/video0", mjpeg_dongle("dongle"))]);
    let mut source = open(&w, None, mode(1280, 720, 30), now).unwrap();
    source.set_streaming(true, now);
    w.borrow_mut().log.clear();
    source.set_mode(mode(1920, 1080, 60), now).unwrap();
    assert_eq!(
        w.borrow().log,
        ["STREAMOFF", "S_FMT 1920x1080", "S_PARM 1/60", "STREAMON"]
    );
    assert_eq!(source.info().mode, mode(1920, 1080, 60));
    assert_eq!(device(&w, "/dev/video0").format.width, 1920);
    capture(&w, "/dev/video0", jpeg(16, 16));
    assert!(source.poll(now).is_some());

    let err = source.set_mode(mode(1024, 768, 30), now).unwrap_err();
    assert_eq!(
        err,
        "1024x768@30fps is not offered by /dev/video0 (MJPG); see the modes in /api/status"
    );
    assert_eq!(source.info().mode, mode(1920, 1080, 60));
}

#[test]
fn test_idle_set_mode_does_not_start() {
    let now = Instant::now();
    let w = world(vec![("/dev/video0", mjpeg_dongle("dongle"))]);
    let mut source = open(&w, None, mode(1280, 720, 30), now).unwrap();
    source.set_mode(mode(640, 480, 30), now).unwrap();
    assert!(!device(&w, "/dev/video0").streaming);
    assert_eq!(source.info().mode, mode(640, 480, 30));
}

#[test]
fn test_idle_start_busy_retries() {
    let now = Instant::now();
    let w = world(vec![("/dev/video0", mjpeg_dongle("dongle"))]);
    let mut source = open(&w, None, mode(1280, 720, 30), now).unwrap();
    device(&w, "/dev/video0").start_error = Some(libc::EBUSY);
    source.set_streaming(true, now);
    assert_eq!(source.fds(), [WATCH_FD]);
    assert_eq!(source.poll_at(), Some(now + RETRY_EVERY));
    device(&w, "/dev/video0").start_error = None;
    source.poll(now + RETRY_EVERY);
    assert_eq!(source.fds(), [WATCH_FD, CAPTURE_FD]);
    // Giving up on a failing start leaves no stale wake-up behind.
    source.set_streaming(false, now);
    device(&w, "/dev/video0").start_error = Some(libc::EBUSY);
    source.set_streaming(true, now);
    source.set_streaming(false, now);
    assert_eq!(source.poll_at(), None);
}

#[test]
fn test_streaming_raw_frames_take_quality() {
    let now = Instant::now();
    // Detail everywhere, so the quality shows in the size.
    let raw: Vec<u8> = (0..640 * 480 * 2).map(|i| (i * 37 % 251) as u8).collect();
    let encoded = |quality| {
        let w = world(vec![("/dev/video0", yuyv_camera())]);
        let host = Box::new(FakeHost(w.clone()));
        let mut source =
            V4l2Source::with_host(host, None, mode(640, 480, 30), quality, now).unwrap();
        source.set_streaming(true, now);
        capture(&w, "/dev/video0", raw.clone());
        (0..1000).find_map(|_| source.poll(now)).expect("a frame")
    };
    let (low, high) = (encoded(20), encoded(95));
    assert!(
        low.jpeg.len() * 2 < high.jpeg.len(),
        "{} vs {} bytes",
        low.jpeg.len(),
        high.jpeg.len()
    );
}

#[test]
fn test_streaming_raw_frames_encoded_at_mode_size() {
    let now = Instant::now();
    let w = world(vec![("/dev/video0", yuyv_camera())]);
    let mut source = open(&w, None, mode(640, 480, 30), now).unwrap();
    source.set_streaming(true, now);
    capture(&w, "/dev/video0", vec![128; 640 * 480 * 2]);
    // Encoded a band per poll, each due at once, other frames re-queued
    // meanwhile.
    assert!(source.poll(now).is_none());
    assert_eq!(source.poll_at(), Some(now));
    assert_eq!(
        device(&w, "/dev/video0").queued.len(),
        BUFFER_COUNT as usize
    );
    let mut polls = 1;
    let frame = loop {
        polls += 1;
        if let Some(frame) = source.poll(now) {
            break frame;
        }
    };
    assert!(polls > 2, "{polls} polls");
    assert_eq!(source.poll_at(), Some(now + NO_SIGNAL_AFTER));
    assert_eq!((frame.width, frame.height), (640, 480));
    assert_eq!(jpeg::whole_jpeg(&frame.jpeg), Some(&frame.jpeg[..]));
    assert_eq!(jpeg::dimensions(&frame.jpeg), Some((640, 480)));
    // A short buffer is dropped, its buffer re-queued.
    capture(&w, "/dev/video0", vec![128; 1000]);
    assert!(source.poll(now).is_none());
    assert_eq!(
        device(&w, "/dev/video0").queued.len(),
        BUFFER_COUNT as usize
    );
}

/// A dongle whose driver raises source-change events, streaming since `now`.
fn streaming_with_events(now: Instant) -> (Shared, V4l2Source) {
    let dongle = FakeDevice {
        reports_changes: true,
        ..mjpeg_dongle("dongle")
    };
    let w = world(vec![("/dev/video0", dongle)]);
    let mut source = open(&w, None, mode(1280, 720, 30), now).unwrap();
    source.set_streaming(true, now);
    w.borrow_mut().log.clear();
    (w, source)
}

#[test]
fn test_streaming_source_change_restarts_at_once() {
    let now = Instant::now();
    let (w, mut source) = streaming_with_events(now);
    // The input now offers only 640x480: the modes are read again and the
    // closest to the wanted 1280x720@30 taken.
    device(&w, "/dev/video0").formats[0].1 = vec![(640, 480)];
    device(&w, "/dev/video0").source_changes = 1;
    let t = now + Duration::from_millis(300);
    assert!(source.poll(t).is_none());
    assert_eq!(
        w.borrow().log,
        ["STREAMOFF", "S_FMT 640x480", "S_PARM 1/30", "STREAMON"]
    );
    let info = source.info();
    assert_eq!(info.mode, mode(640, 480, 30));
    assert_eq!(info.modes, [mode(640, 480, 60), mode(640, 480, 30)]);
    assert_eq!(info.signal, Signal::Live);
    assert_eq!(source.fds(), [WATCH_FD, CAPTURE_FD]);
    // Silence is timed from the restart.
    assert_eq!(source.poll_at(), Some(t + NO_SIGNAL_AFTER));
    capture(&w, "/dev/video0", jpeg(16, 16));
    assert!(source.poll(t).is_some());
    // One event, one restart.
    w.borrow_mut().log.clear();
    source.poll(t);
    assert!(w.borrow().log.is_empty());
}

#[test]
fn test_streaming_source_change_unreported_waits_for_silence() {
    let now = Instant::now();
    let w = world(vec![("/dev/video0", mjpeg_dongle("dongle"))]);
    let mut source = open(&w, None, mode(1280, 720, 30), now).unwrap();
    source.set_streaming(true, now);
    w.borrow_mut().log.clear();
    // A driver without events (uvcvideo): nothing happens until the silence.
    device(&w, "/dev/video0").source_changes = 1;
    source.poll(now + Duration::from_millis(300));
    assert!(w.borrow().log.is_empty());
    source.poll(now + NO_SIGNAL_AFTER);
    assert_eq!(source.info().signal, Signal::NoSignal);
    assert_eq!(w.borrow().log, ["STREAMOFF"]);
}

#[test]
fn test_streaming_source_change_unusable_closes_then_reopens() {
    let now = Instant::now();
    let (w, mut source) = streaming_with_events(now);
    // The new source is offered only raw: the driver answers S_FMT with YUYV.
    device(&w, "/dev/video0").formats.remove(0);
    device(&w, "/dev/video0").source_changes = 1;
    assert!(source.poll(now).is_none());
    assert_eq!(source.info().signal, Signal::NoSignal);
    assert_eq!(source.fds(), [WATCH_FD]);
    assert_eq!(source.poll_at(), Some(now + RETRY_EVERY));
    // Opened afresh at the retry: discovery takes the YUYV it offers now.
    source.poll(now + RETRY_EVERY);
    assert_eq!(source.info().format, "YUYV");
    assert_eq!(source.fds(), [WATCH_FD, CAPTURE_FD]);
}

#[test]
fn test_streaming_source_change_unplugged_no_device() {
    let now = Instant::now();
    let (w, mut source) = streaming_with_events(now);
    device(&w, "/dev/video0").unplugged = true;
    assert!(source.poll(now).is_none());
    assert_eq!(source.info().signal, Signal::NoDevice);
    assert_eq!(source.poll_at(), Some(now + RETRY_EVERY));
}

#[test]
fn test_blocked_source_change_starts_before_retry() {
    let now = Instant::now();
    let dongle = FakeDevice {
        reports_changes: true,
        start_error: Some(libc::EBUSY),
        ..mjpeg_dongle("dongle")
    };
    let w = world(vec![("/dev/video0", dongle)]);
    let mut source = open(&w, None, mode(1280, 720, 30), now).unwrap();
    source.set_streaming(true, now);
    assert_eq!(source.poll_at(), Some(now + RETRY_EVERY));
    // The source changed (what STREAMON refused may fit now): configured
    // again and started at once, not at the retry.
    device(&w, "/dev/video0").start_error = None;
    device(&w, "/dev/video0").source_changes = 1;
    let t = now + Duration::from_millis(100);
    source.poll(t);
    assert_eq!(source.fds(), [WATCH_FD, CAPTURE_FD]);
    assert_eq!(source.poll_at(), Some(t + NO_SIGNAL_AFTER));
}

#[test]
fn test_idle_source_change_read_at_next_poll_without_starting() {
    let now = Instant::now();
    let (w, mut source) = streaming_with_events(now);
    source.set_streaming(false, now);
    device(&w, "/dev/video0").formats[0].1 = vec![(640, 480)];
    device(&w, "/dev/video0").source_changes = 1;
    w.borrow_mut().log.clear();
    source.poll(now);
    assert_eq!(w.borrow().log, ["S_FMT 640x480", "S_PARM 1/30"]);
    assert_eq!(source.info().mode, mode(640, 480, 30));
    assert!(!device(&w, "/dev/video0").streaming);
    assert_eq!(source.poll_at(), None);
}
