//! `ws-send`: a WebSocket client for kv's /ws that sends the given JSON messages
//! and prints every message kv sends back until it has been quiet for a while.

use crate::http::Url;
use crate::Outcome;
use std::io::ErrorKind;
use std::time::{Duration, Instant};
use tungstenite::client::IntoClientRequest;
use tungstenite::{Error, HandshakeError, Message};

/// Upper bound on listening for replies, however chatty the server is.
const MAX_LISTEN: Duration = Duration::from_secs(30);

/// The Origin header to send: kv accepts only one matching Host.
pub enum Origin {
    SameAsHost,
    Given(String),
    Missing,
}

/// When to stop listening after the last message was sent.
#[derive(Clone, Copy)]
pub enum Listen {
    /// Once the server has sent nothing for this long.
    UntilQuiet(Duration),
    /// After exactly this long, however chatty or quiet the server is: the
    /// connection (and whatever keys it holds down) stays open that long.
    Hold(Duration),
}

/// Sends `messages` (with `gap` between them: a HID host takes one report per
/// poll interval, and kv keeps only the newest state of a host still busy) and
/// prints the replies until `listen` says to stop.
pub fn send(
    url: &str,
    origin: &Origin,
    listen: Listen,
    gap: Duration,
    messages: &[&str],
) -> Outcome {
    let parsed = Url::parse(url)?;
    let stream = parsed.connect(Duration::from_secs(5))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let mut request = url
        .into_client_request()
        .map_err(|e| format!("{url}: {e}"))?;
    let origin = match origin {
        Origin::SameAsHost => Some(format!("http://{}", parsed.authority())),
        Origin::Given(value) => Some(value.clone()),
        Origin::Missing => None,
    };
    if let Some(origin) = origin {
        let value = origin
            .parse()
            .map_err(|_| format!("bad Origin {origin:?}"))?;
        request.headers_mut().insert("Origin", value);
    }
    let (mut socket, response) = match tungstenite::client(request, stream) {
        Ok(ok) => ok,
        Err(HandshakeError::Failure(Error::Http(response))) => {
            println!("refused {}", response.status().as_u16());
            return Err(format!(
                "{url}: handshake refused with HTTP {}",
                response.status()
            ));
        }
        Err(e) => return Err(format!("{url}: handshake failed: {e}")),
    };
    println!("connected {}", response.status().as_u16());
    for (i, message) in messages.iter().enumerate() {
        if i > 0 && !gap.is_zero() {
            std::thread::sleep(gap);
        }
        socket
            .send(Message::text(*message))
            .map_err(|e| format!("{url}: sending {message}: {e}"))?;
        println!("sent {message}");
    }
    let (quiet, give_up) = match listen {
        Listen::UntilQuiet(quiet) => (quiet, Instant::now() + MAX_LISTEN),
        // Woken every 100 ms to look at the clock; quiet spells do not end it.
        Listen::Hold(hold) => (Duration::from_millis(100), Instant::now() + hold),
    };
    socket
        .get_ref()
        .set_read_timeout(Some(quiet.max(Duration::from_millis(1))))
        .map_err(|e| e.to_string())?;
    while Instant::now() < give_up {
        match socket.read() {
            Ok(Message::Text(text)) => println!("recv {}", text.as_str()),
            Ok(Message::Binary(data)) => println!("recv binary {} bytes", data.len()),
            Ok(Message::Close(frame)) => {
                println!(
                    "closed by server {}",
                    frame.map_or(String::new(), |f| f.code.to_string())
                );
                return Ok(());
            }
            Ok(_) => {}
            Err(Error::Io(e))
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
            {
                if let Listen::UntilQuiet(_) = listen {
                    break;
                }
            }
            Err(e) => return Err(format!("{url}: {e}")),
        }
    }
    // Best effort: a clean close lets kv release keys as it would for a browser.
    let _ = socket.close(None);
    let _ = socket.flush();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::sync::mpsc;
    use tungstenite::handshake::server::{ErrorResponse, Request, Response};

    /// A one-connection server that, like kv, refuses a handshake without the
    /// matching Origin, greets with a status message and reports what it received.
    fn serve() -> (String, mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            let check_origin = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
                match req.headers().get("Origin") {
                    Some(o) if o.as_bytes() == format!("http://{addr}").as_bytes() => Ok(resp),
                    _ => Err(tungstenite::http::Response::builder()
                        .status(403)
                        .body(None)
                        .unwrap()),
                }
            };
            let Ok(mut ws) = tungstenite::accept_hdr(conn, check_origin) else {
                return;
            };
            ws.send(Message::text(r#"{"type":"status"}"#)).unwrap();
            while let Ok(Message::Text(text)) = ws.read() {
                tx.send(text.as_str().to_owned()).unwrap();
            }
        });
        (format!("ws://{addr}/ws"), rx)
    }

    #[test]
    fn test_send_with_matching_origin() {
        let (url, received) = serve();
        let quiet = Listen::UntilQuiet(Duration::from_millis(200));
        assert_eq!(
            send(
                &url,
                &Origin::SameAsHost,
                quiet,
                Duration::ZERO,
                &[r#"{"type":"release"}"#]
            ),
            Ok(())
        );
        assert_eq!(received.recv().unwrap(), r#"{"type":"release"}"#);
    }

    #[test]
    fn test_send_without_origin_refused() {
        let (url, _) = serve();
        let err = send(
            &url,
            &Origin::Missing,
            Listen::UntilQuiet(Duration::from_millis(200)),
            Duration::ZERO,
            &[],
        )
        .unwrap_err();
        assert!(err.contains("403"), "{err}");
    }

    #[test]
    fn test_send_hold_stays_connected_that_long() {
        let (url, received) = serve();
        let started = Instant::now();
        let hold = Listen::Hold(Duration::from_millis(400));
        let key = r#"{"type":"key","code":"KeyA","down":true}"#;
        assert_eq!(
            send(&url, &Origin::SameAsHost, hold, Duration::ZERO, &[key]),
            Ok(())
        );
        assert!(started.elapsed() >= Duration::from_millis(400));
        assert_eq!(received.recv().unwrap(), key);
    }
}
