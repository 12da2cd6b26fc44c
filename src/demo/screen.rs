//! The demo target's screen: the state its keyboard and mice change (console text,
//! pointer, buttons, lock LEDs) and how that state is drawn onto a `Canvas`.
//! Every change that shows on screen marks it dirty, so the source re-encodes a
//! JPEG only when the picture differs from the last one.

use std::collections::VecDeque;
use std::time::Duration;

use super::console::Console;
use crate::hid::layout::{LALT, LCTRL, LGUI, LSHIFT, RALT, RCTRL, RGUI, RSHIFT};
use crate::render::{text_width, Canvas, Rgb, CELL_HEIGHT, CELL_WIDTH};
use crate::video::Mode;

/// Keyboard LED bits of the output report.
pub const LED_NUM: u8 = 0x01;
pub const LED_CAPS: u8 = 0x02;
pub const LED_SCROLL: u8 = 0x04;

/// Largest value of the absolute mouse's X and Y.
pub const ABS_MAX: u16 = 32767;

/// Clicks stay on screen as marks; only the newest are kept.
const MAX_CLICK_MARKS: usize = 32;

const BACKGROUND: Rgb = Rgb(16, 20, 28);
const TEXT: Rgb = Rgb(210, 214, 220);
const BAR: Rgb = Rgb(36, 64, 120);
const LED_OFF: Rgb = Rgb(90, 100, 120);
/// The pointer's outline, drawn at its hotspot: what sits exactly under the mouse.
pub const POINTER_OUTLINE: Rgb = Rgb::BLACK;

/// The arrow pointer, hotspot at the top-left: `#` outline, `o` fill (the colour
/// shows the pressed button), `.` transparent.
const POINTER: [&str; 14] = [
    "#.........",
    "##........",
    "#o#.......",
    "#oo#......",
    "#ooo#.....",
    "#oooo#....",
    "#ooooo#...",
    "#oooooo#..",
    "#ooooooo#.",
    "#oooo#####",
    "#o##o#....",
    "##..#o#...",
    "....#o#...",
    ".....##...",
];

#[derive(Debug)]
pub struct Screen {
    mode: Mode,
    pub console: Console,
    /// Rows scrolled back from the bottom of the console (wheel up).
    scroll: usize,
    pointer: (u32, u32),
    buttons: u8,
    clicks: VecDeque<(u32, u32, u8)>,
    /// Modifier bits of the keyboard's current report, shown in the status bar.
    modifiers: u8,
    leds: u8,
    /// Off after a forced power-off (ATX long press): the screen is black.
    powered: bool,
    dirty: bool,
}

/// Where things go on a screen of a given size.
struct Geometry {
    /// Text scale: the font grows with the screen so 1080p stays readable.
    scale: u32,
    bar_height: u32,
    margin: u32,
    columns: usize,
    rows: usize,
}

impl Screen {
    pub fn new(mode: Mode) -> Screen {
        Screen {
            mode,
            console: Console::default(),
            scroll: 0,
            pointer: (mode.width / 2, mode.height / 2),
            buttons: 0,
            clicks: VecDeque::new(),
            modifiers: 0,
            leds: 0,
            powered: true,
            dirty: true,
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Changes size and rate; the pointer and click marks stay inside the new size.
    pub fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
        self.pointer = self.clamp_to_screen(i64::from(self.pointer.0), i64::from(self.pointer.1));
        self.clicks
            .retain(|&(x, y, _)| x < mode.width && y < mode.height);
        self.dirty = true;
    }

    /// Returns whether anything changed since the last call, and clears the flag.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    pub fn powered(&self) -> bool {
        self.powered
    }

    pub fn set_powered(&mut self, on: bool) {
        self.powered = on;
        self.dirty = true;
    }

    /// A reset: the console starts empty, as after a reboot.
    pub fn reboot(&mut self) {
        self.console = Console::default();
        self.scroll = 0;
        self.dirty = true;
    }

    pub fn leds(&self) -> u8 {
        self.leds
    }

    #[cfg(test)]
    pub fn pointer(&self) -> (u32, u32) {
        self.pointer
    }

    pub fn type_char(&mut self, c: char) {
        self.console.type_char(c);
        self.scroll = 0;
        self.dirty = true;
    }

    pub fn backspace(&mut self) {
        self.console.backspace();
        self.scroll = 0;
        self.dirty = true;
    }

    pub fn toggle_leds(&mut self, bits: u8) {
        self.leds ^= bits;
        self.dirty = true;
    }

    pub fn set_modifiers(&mut self, modifiers: u8) {
        self.dirty |= self.modifiers != modifiers;
        self.modifiers = modifiers;
    }

    /// Absolute position, 0..=`ABS_MAX` on each axis across the whole screen:
    /// the inverse of the browser side's `round(fraction * 32767)`.
    pub fn move_to(&mut self, x: u16, y: u16) {
        let scale = |v: u16, side: u32| {
            let v = u64::from(v.min(ABS_MAX));
            let max = u64::from(side.saturating_sub(1));
            let half = u64::from(ABS_MAX) / 2;
            i64::try_from((v * max + half) / u64::from(ABS_MAX)).unwrap_or(i64::MAX)
        };
        let pointer = self.clamp_to_screen(scale(x, self.mode.width), scale(y, self.mode.height));
        self.set_pointer(pointer);
    }

    /// Relative move: accumulates, stopping at the screen's edges like a host does.
    pub fn move_by(&mut self, dx: i8, dy: i8) {
        let x = i64::from(self.pointer.0) + i64::from(dx);
        let y = i64::from(self.pointer.1) + i64::from(dy);
        let pointer = self.clamp_to_screen(x, y);
        self.set_pointer(pointer);
    }

    fn set_pointer(&mut self, pointer: (u32, u32)) {
        self.dirty |= self.pointer != pointer;
        self.pointer = pointer;
    }

    fn clamp_to_screen(&self, x: i64, y: i64) -> (u32, u32) {
        let clamp = |v: i64, side: u32| v.clamp(0, i64::from(side.saturating_sub(1))) as u32;
        (clamp(x, self.mode.width), clamp(y, self.mode.height))
    }

    /// A button going down leaves a mark where the pointer is.
    pub fn set_buttons(&mut self, buttons: u8) {
        let pressed = buttons & !self.buttons;
        if pressed != 0 {
            if self.clicks.len() == MAX_CLICK_MARKS {
                self.clicks.pop_front();
            }
            self.clicks
                .push_back((self.pointer.0, self.pointer.1, pressed));
        }
        self.dirty |= self.buttons != buttons;
        self.buttons = buttons;
    }

    /// Wheel notches: positive scrolls the console back (up), towards older text.
    pub fn wheel(&mut self, notches: i8) {
        if notches == 0 {
            return;
        }
        let geometry = self.geometry();
        let hidden = self
            .console
            .rows(geometry.columns)
            .len()
            .saturating_sub(geometry.rows);
        let scroll = self
            .scroll
            .saturating_add_signed(isize::from(notches) * 3)
            .min(hidden);
        self.dirty |= self.scroll != scroll;
        self.scroll = scroll;
    }

    fn geometry(&self) -> Geometry {
        let scale = (self.mode.width / 640).clamp(1, 4);
        let margin = 4 * scale;
        let bar_height = CELL_HEIGHT * scale + 2 * margin;
        let text_height = self.mode.height.saturating_sub(2 * bar_height + 2 * margin);
        let text_width = self.mode.width.saturating_sub(2 * margin);
        Geometry {
            scale,
            bar_height,
            margin,
            columns: (text_width / (CELL_WIDTH * scale)).max(1) as usize,
            rows: (text_height / (CELL_HEIGHT * scale)) as usize,
        }
    }

    /// Draws the screen as it is after `uptime` (the title bar's clock).
    pub fn render(&self, uptime: Duration) -> Canvas {
        let (width, height) = (self.mode.width, self.mode.height);
        let g = self.geometry();
        let (s, m) = (g.scale, g.margin as i32);
        if !self.powered {
            return Canvas::new(width, height, Rgb::BLACK);
        }
        let mut canvas = Canvas::new(width, height, BACKGROUND);

        // Title bar: name, lock LEDs, clock.
        canvas.fill_rect(0, 0, width, g.bar_height, BAR);
        canvas.draw_text(m, m, "kv demo target", s, Rgb::WHITE);
        let secs = uptime.as_secs();
        let clock = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
        let clock_x = width.saturating_sub(g.margin + text_width(&clock, s)) as i32;
        canvas.draw_text(clock_x, m, &clock, s, Rgb::WHITE);
        let mut led_x = clock_x - text_width("NUM CAPS SCROLL    ", s) as i32;
        for (bit, name) in [(LED_NUM, "NUM"), (LED_CAPS, "CAPS"), (LED_SCROLL, "SCROLL")] {
            let lit = self.leds & bit != 0;
            canvas.draw_text(led_x, m, name, s, if lit { Rgb::YELLOW } else { LED_OFF });
            led_x += text_width(name, s) as i32 + (CELL_WIDTH * s) as i32;
        }

        // Console: the rows that fit, ending `scroll` rows above the newest.
        let rows = self.console.rows(g.columns);
        let end = rows.len().saturating_sub(self.scroll);
        let start = end.saturating_sub(g.rows);
        let top = (g.bar_height + g.margin) as i32;
        let line = (CELL_HEIGHT * s) as i32;
        for (i, row) in rows.get(start..end).unwrap_or_default().iter().enumerate() {
            canvas.draw_text(m, top + i as i32 * line, row, s, TEXT);
        }
        if self.scroll == 0 && end > start {
            let last = rows.get(end - 1).map_or(0, |r| r.chars().count());
            let x = m + text_width(&" ".repeat(last), s) as i32;
            let y = top + (end - start - 1) as i32 * line;
            canvas.fill_rect(x, y + (8 * s) as i32, CELL_WIDTH * s - s, s, TEXT);
        }

        // Status bar: mode, pointer, buttons, modifiers, scroll.
        let status_y = height.saturating_sub(g.bar_height) as i32;
        canvas.fill_rect(0, status_y, width, g.bar_height, BAR);
        canvas.draw_text(m, status_y + m, &self.status(), s, Rgb::WHITE);

        for &(x, y, buttons) in &self.clicks {
            let size = 5 * s;
            let half = (size / 2) as i32;
            canvas.fill_rect(
                x as i32 - half,
                y as i32 - half,
                size,
                size,
                button_color(buttons),
            );
        }
        self.draw_pointer(&mut canvas, s);
        canvas
    }

    fn status(&self) -> String {
        let (x, y) = self.pointer;
        let mut status = format!("{}  pointer {x},{y}  buttons ", self.mode);
        for (bit, name) in [
            (0x01, 'L'),
            (0x02, 'R'),
            (0x04, 'M'),
            (0x08, 'B'),
            (0x10, 'F'),
        ] {
            status.push(if self.buttons & bit != 0 { name } else { '-' });
        }
        let modifiers = [
            (LCTRL | RCTRL, " Ctrl"),
            (LSHIFT | RSHIFT, " Shift"),
            (LALT, " Alt"),
            (RALT, " AltGr"),
            (LGUI | RGUI, " Gui"),
        ];
        for (bits, name) in modifiers {
            if self.modifiers & bits != 0 {
                status.push_str(name);
            }
        }
        if self.scroll > 0 {
            status.push_str(&format!("  scrolled back {} rows", self.scroll));
        }
        status
    }

    fn draw_pointer(&self, canvas: &mut Canvas, scale: u32) {
        let fill = if self.buttons == 0 {
            Rgb::WHITE
        } else {
            button_color(self.buttons)
        };
        let s = scale as i32;
        let (x, y) = (self.pointer.0 as i32, self.pointer.1 as i32);
        for (r, row) in POINTER.iter().enumerate() {
            for (c, cell) in row.bytes().enumerate() {
                let color = match cell {
                    b'#' => POINTER_OUTLINE,
                    b'o' => fill,
                    _ => continue,
                };
                canvas.fill_rect(x + c as i32 * s, y + r as i32 * s, scale, scale, color);
            }
        }
    }
}

/// The colour of the lowest pressed button: left red, right blue, middle green.
fn button_color(buttons: u8) -> Rgb {
    match buttons.trailing_zeros() {
        0 => Rgb::RED,
        1 => Rgb::BLUE,
        2 => Rgb::GREEN,
        _ => Rgb::YELLOW,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VGA: Mode = Mode {
        width: 640,
        height: 480,
        fps: 30,
    };

    #[test]
    fn test_pointer_abs_corners() {
        let mut screen = Screen::new(VGA);
        screen.move_to(ABS_MAX, ABS_MAX);
        assert_eq!(screen.pointer(), (639, 479));
        screen.move_to(0, 0);
        assert_eq!(screen.pointer(), (0, 0));
        screen.move_to(ABS_MAX / 2 + 1, u16::MAX);
        assert_eq!(screen.pointer(), (320, 479));
    }

    #[test]
    fn test_set_mode_keeps_pointer_on_screen() {
        let mut screen = Screen::new(Mode {
            width: 1920,
            height: 1080,
            fps: 30,
        });
        screen.move_to(ABS_MAX, ABS_MAX);
        screen.set_buttons(1);
        screen.set_mode(VGA);
        assert_eq!(screen.pointer(), (639, 479));
        let canvas = screen.render(Duration::ZERO);
        assert_eq!((canvas.width, canvas.height), (640, 480));
    }

    #[test]
    fn test_clicks_are_bounded() {
        let mut screen = Screen::new(VGA);
        for i in 0..100 {
            screen.move_by(1, 0);
            screen.set_buttons(i as u8 & 1);
        }
        assert_eq!(screen.clicks.len(), MAX_CLICK_MARKS);
    }

    #[test]
    fn test_render_shows_leds_and_clock() {
        let mut screen = Screen::new(VGA);
        let before = screen.render(Duration::from_secs(1));
        assert_ne!(before.rgb, screen.render(Duration::from_secs(2)).rgb);
        screen.toggle_leds(LED_CAPS);
        assert_ne!(before.rgb, screen.render(Duration::from_secs(1)).rgb);
        assert!(screen
            .status()
            .starts_with("640x480@30fps  pointer 320,240"));
    }

    #[test]
    fn test_wheel_scrolls_within_text() {
        let mut screen = Screen::new(VGA);
        screen.wheel(5);
        assert_eq!(screen.scroll, 0, "nothing to scroll back to");
        for _ in 0..200 {
            screen.type_char('\n');
        }
        let hidden = 201 - screen.geometry().rows;
        screen.wheel(1);
        assert_eq!(screen.scroll, 3);
        screen.wheel(127);
        assert_eq!(screen.scroll, hidden);
        screen.wheel(-128);
        assert_eq!(screen.scroll, 0);
        screen.wheel(1);
        screen.type_char('x');
        assert_eq!(screen.scroll, 0, "typing jumps back to the cursor");
    }
}
