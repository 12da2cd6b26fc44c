//! HTTP/1.1 for kv's browser UI and API: request heads (`request`), responses
//! (`response`), which request gets what (`routes`, asking `crate::auth`),
//! the embedded UI (`assets`), and the per-connection state machine (`conn`)
//! the event loop drives. A connection hands its socket (`io`) to an upload body
//! (`upload`), a refused body being drained (`linger`) or a WebSocket
//! session (`websocket`, over `ws`: the handshake, framing and the input
//! messages) or a video session (`video_session`: `canvas` frames to the
//! page, its acks back) while one of those runs.

pub mod accounts;
pub mod assets;
pub mod audit;
pub mod canvas;
pub mod conn;
pub mod host;
pub mod io;
pub mod linger;
pub mod request;
pub mod response;
pub mod routes;
pub mod serial_session;
pub mod shares;
pub mod totp;
pub mod upload;
pub mod video_session;
pub mod websocket;
pub mod ws;

/// The statuses kv answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    SwitchingProtocols,
    SeeOther,
    NotModified,
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    Conflict,
    LengthRequired,
    PayloadTooLarge,
    UnsupportedMediaType,
    MisdirectedRequest,
    TooManyRequests,
    HeaderTooLarge,
    InternalServerError,
    ServiceUnavailable,
    InsufficientStorage,
}

impl Status {
    pub fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::SwitchingProtocols => 101,
            Status::SeeOther => 303,
            Status::NotModified => 304,
            Status::BadRequest => 400,
            Status::Unauthorized => 401,
            Status::Forbidden => 403,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::RequestTimeout => 408,
            Status::Conflict => 409,
            Status::LengthRequired => 411,
            Status::PayloadTooLarge => 413,
            Status::UnsupportedMediaType => 415,
            Status::MisdirectedRequest => 421,
            Status::TooManyRequests => 429,
            Status::HeaderTooLarge => 431,
            Status::InternalServerError => 500,
            Status::ServiceUnavailable => 503,
            Status::InsufficientStorage => 507,
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::SwitchingProtocols => "Switching Protocols",
            Status::SeeOther => "See Other",
            Status::NotModified => "Not Modified",
            Status::BadRequest => "Bad Request",
            Status::Unauthorized => "Unauthorized",
            Status::Forbidden => "Forbidden",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::RequestTimeout => "Request Timeout",
            Status::Conflict => "Conflict",
            Status::LengthRequired => "Length Required",
            Status::PayloadTooLarge => "Payload Too Large",
            Status::UnsupportedMediaType => "Unsupported Media Type",
            Status::MisdirectedRequest => "Misdirected Request",
            Status::TooManyRequests => "Too Many Requests",
            Status::HeaderTooLarge => "Request Header Fields Too Large",
            Status::InternalServerError => "Internal Server Error",
            Status::ServiceUnavailable => "Service Unavailable",
            Status::InsufficientStorage => "Insufficient Storage",
        }
    }
}
