//! Sockets: TCP, with TLS via futures-rustls, Unix sockets (LMTP), and
//! bounded, board-sized buffers.

mod compress;
mod connection;
pub mod lan;
pub mod tls;

use std::io;
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::task::{Context, Poll};

use smol::io::{AsyncRead, AsyncWrite};
use smol::Async;

pub use compress::Slot as CompressSlot;
pub use connection::{Connection, LineStatus};

/// A client's byte stream, before or after TLS.
pub enum Stream {
    Plain(Async<TcpStream>),
    Tls(Box<futures_rustls::server::TlsStream<Async<TcpStream>>>),
    /// A local client (the MTA delivering over LMTP).
    Unix(Async<UnixStream>),
    /// Left behind while the TCP stream is handed to the TLS handshake.
    Closed,
}

impl Stream {
    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }
}

macro_rules! delegate {
    ($self:ident, $stream:ident => $call:expr) => {
        match $self.get_mut() {
            Stream::Plain($stream) => {
                let $stream = Pin::new($stream);
                $call
            }
            Stream::Tls($stream) => {
                let $stream = Pin::new($stream.as_mut());
                $call
            }
            Stream::Unix($stream) => {
                let $stream = Pin::new($stream);
                $call
            }
            Stream::Closed => Poll::Ready(Err(io::Error::new(io::ErrorKind::NotConnected, "stream closed"))),
        }
    };
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, context: &mut Context<'_>, buffer: &mut [u8]) -> Poll<io::Result<usize>> {
        delegate!(self, stream => stream.poll_read(context, buffer))
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, context: &mut Context<'_>, buffer: &[u8]) -> Poll<io::Result<usize>> {
        delegate!(self, stream => stream.poll_write(context, buffer))
    }

    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, stream => stream.poll_flush(context))
    }

    fn poll_close(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, stream => stream.poll_close(context))
    }
}
