//! ID (RFC 2971): the client says what it is; we say what we are.

use std::io;

use crate::imap::encode;
use crate::imap::session::{Session, Status};

pub async fn run(
    session: &mut Session,
    tag: &str,
    parameters: Option<Vec<(String, Option<String>)>>,
) -> io::Result<()> {
    if let Some(parameters) = parameters {
        let described: Vec<String> = parameters
            .iter()
            .filter(|(field, _)| ["name", "version", "os", "vendor"].contains(&field.to_ascii_lowercase().as_str()))
            .map(|(field, value)| format!("{field}={}", value.as_deref().unwrap_or("NIL")))
            .collect();
        // Kept for the login history: printable, at most 64 characters.
        let name = parameters
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case("name"))
            .and_then(|(_, value)| value.as_deref());
        session.client_name =
            name.map(|name| name.chars().filter(|character| !character.is_control()).take(64).collect());
        if !described.is_empty() {
            log::info!("{}: client {}", session.peer, described.join(" "));
        }
    }
    let out = session.conn.out();
    out.extend_from_slice(b"* ID (\"name\" ");
    encode::string(out, b"roost");
    out.extend_from_slice(b" \"version\" ");
    encode::string(out, env!("CARGO_PKG_VERSION").as_bytes());
    out.extend_from_slice(b")\r\n");
    session.finish(tag, Status::Ok, None, "ID completed").await
}
