//! A small async IMAP client for the load generator: plain or TLS, tagged
//! commands, literals in responses, APPEND with LITERAL+.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_rustls::client::TlsStream;
use smol::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use smol::Async;

pub enum Stream {
    Plain(Async<TcpStream>),
    Tls(Box<TlsStream<Async<TcpStream>>>),
    /// After COMPRESS DEFLATE (RFC 4978), over either of the others.
    Deflate(Box<Deflated>),
    /// Left behind while COMPRESS swaps the stream.
    Closed,
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "stream closed")
}

/// Raw DEFLATE both ways (miniz_oxide, as the server uses), a sync flush
/// after every write as RFC 4978 §4 asks of a client; counts the
/// compressed bytes received.
pub struct Deflated {
    inner: Stream,
    inflater: Box<miniz_oxide::inflate::stream::InflateState>,
    compressor: Box<miniz_oxide::deflate::core::CompressorOxide>,
    raw: Vec<u8>,
    raw_start: usize,
    raw_end: usize,
    /// Compressed bytes not yet written.
    out: Vec<u8>,
    out_start: usize,
    pub wire_received: u64,
}

impl Deflated {
    fn poll_drain(&mut self, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.out_start < self.out.len() {
            match Pin::new(&mut self.inner).poll_write(context, &self.out[self.out_start..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(closed())),
                Poll::Ready(Ok(count)) => self.out_start += count,
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => return Poll::Pending,
            }
        }
        self.out.clear();
        self.out_start = 0;
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Deflated {
    fn poll_read(self: Pin<&mut Self>, context: &mut Context<'_>, buffer: &mut [u8]) -> Poll<io::Result<usize>> {
        use miniz_oxide::{MZError, MZFlush, MZStatus};
        let this = self.get_mut();
        loop {
            let input = &this.raw[this.raw_start..this.raw_end];
            let result = miniz_oxide::inflate::stream::inflate(&mut this.inflater, input, buffer, MZFlush::None);
            this.raw_start += result.bytes_consumed;
            match result.status {
                Ok(MZStatus::Ok) | Err(MZError::Buf) => {}
                other => return Poll::Ready(Err(other_error(format!("bad DEFLATE data from the server: {other:?}")))),
            }
            if result.bytes_written > 0 || buffer.is_empty() {
                return Poll::Ready(Ok(result.bytes_written));
            }
            if this.raw_start == this.raw_end {
                this.raw_start = 0;
                this.raw_end = 0;
            }
            if this.raw.len() < this.raw_end + 16384 {
                this.raw.resize(this.raw_end + 16384, 0);
            }
            let end = this.raw_end;
            match Pin::new(&mut this.inner).poll_read(context, &mut this.raw[end..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Ok(0)),
                Poll::Ready(Ok(count)) => {
                    this.raw_end += count;
                    this.wire_received += count as u64;
                }
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl AsyncWrite for Deflated {
    fn poll_write(self: Pin<&mut Self>, context: &mut Context<'_>, buffer: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.poll_drain(context)?.is_pending() {
            return Poll::Pending;
        }
        let mut rest = buffer;
        loop {
            let mut chunk = [0u8; 8192];
            let result = miniz_oxide::deflate::stream::deflate(
                &mut this.compressor,
                rest,
                &mut chunk,
                miniz_oxide::MZFlush::Sync,
            );
            result.status.map_err(|error| other_error(format!("deflate: {error:?}")))?;
            rest = &rest[result.bytes_consumed..];
            this.out.extend_from_slice(&chunk[..result.bytes_written]);
            if rest.is_empty() && result.bytes_written < chunk.len() {
                break;
            }
        }
        // Accepted; the compressed bytes go out now or on the next poll.
        let _ = this.poll_drain(context)?;
        Poll::Ready(Ok(buffer.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.poll_drain(context)?.is_pending() {
            return Poll::Pending;
        }
        Pin::new(&mut this.inner).poll_flush(context)
    }

    fn poll_close(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.poll_drain(context)?.is_pending() {
            return Poll::Pending;
        }
        Pin::new(&mut this.inner).poll_close(context)
    }
}

fn other_error(text: String) -> io::Error {
    io::Error::other(text)
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, context: &mut Context<'_>, buffer: &mut [u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_read(context, buffer),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_read(context, buffer),
            Stream::Deflate(stream) => Pin::new(stream.as_mut()).poll_read(context, buffer),
            Stream::Closed => Poll::Ready(Err(closed())),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, context: &mut Context<'_>, buffer: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_write(context, buffer),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_write(context, buffer),
            Stream::Deflate(stream) => Pin::new(stream.as_mut()).poll_write(context, buffer),
            Stream::Closed => Poll::Ready(Err(closed())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_flush(context),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(context),
            Stream::Deflate(stream) => Pin::new(stream.as_mut()).poll_flush(context),
            Stream::Closed => Poll::Ready(Err(closed())),
        }
    }

    fn poll_close(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_close(context),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_close(context),
            Stream::Deflate(stream) => Pin::new(stream.as_mut()).poll_close(context),
            Stream::Closed => Poll::Ready(Err(closed())),
        }
    }
}

/// Accepts any certificate: both servers use self-signed ones, and the
/// benchmark measures them, not PKI.
#[derive(Debug)]
struct AcceptAnything(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &[rustls_pki_types::CertificateDer<'_>],
        _: &rustls_pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        signature: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, signature, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        signature: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, signature, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

pub fn tls_config() -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnything(provider)))
        .with_no_client_auth();
    Arc::new(config)
}

/// The outcome of one tagged command.
pub struct Reply {
    /// Untagged lines, each with its literals inline.
    pub untagged: Vec<Vec<u8>>,
    /// The tagged status line, after the tag.
    pub status: Vec<u8>,
}

impl Reply {
    pub fn ok(&self) -> bool {
        self.status.starts_with(b"OK")
    }
}

pub struct Client {
    stream: BufReader<Stream>,
    tag: u64,
    /// Bytes received so far (for MiB/s figures).
    pub received: u64,
    /// Keep untagged responses (off for bulk FETCHes: counted, not kept).
    pub keep_untagged: bool,
}

fn other(text: impl Into<String>) -> io::Error {
    io::Error::other(text.into())
}

impl Client {
    pub async fn connect(address: SocketAddr, tls: Option<Arc<rustls::ClientConfig>>) -> io::Result<Client> {
        let tcp = Async::<TcpStream>::connect(address).await?;
        Client::over(tcp, tls).await
    }

    /// A client over a connection made elsewhere (from a chosen source
    /// address, say); reads the greeting, which must be `* OK`.
    pub async fn over(tcp: Async<TcpStream>, tls: Option<Arc<rustls::ClientConfig>>) -> io::Result<Client> {
        tcp.get_ref().set_nodelay(true)?;
        let stream = match tls {
            None => Stream::Plain(tcp),
            Some(config) => {
                let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
                let connector = futures_rustls::TlsConnector::from(config);
                Stream::Tls(Box::new(connector.connect(name, tcp).await?))
            }
        };
        let mut client =
            Client { stream: BufReader::with_capacity(16 * 1024, stream), tag: 0, received: 0, keep_untagged: true };
        let greeting = client.read_response().await?;
        if !greeting.starts_with(b"* OK") {
            return Err(other(format!("greeting: {}", String::from_utf8_lossy(&greeting))));
        }
        Ok(client)
    }

    async fn read_line(&mut self, into: &mut Vec<u8>) -> io::Result<()> {
        let count = self.stream.read_until(b'\n', into).await?;
        if count == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "server closed the connection"));
        }
        self.received += count as u64;
        Ok(())
    }

    /// One response with its literals.
    pub async fn read_response(&mut self) -> io::Result<Vec<u8>> {
        let mut response = Vec::new();
        loop {
            self.read_line(&mut response).await?;
            let line_end = response.len();
            let trimmed = response[..line_end].strip_suffix(b"\r\n").unwrap_or(&response[..line_end]);
            let Some(length) = literal_length(trimmed) else { return Ok(response) };
            let start = response.len();
            response.resize(start + length, 0);
            self.stream.read_exact(&mut response[start..]).await?;
            self.received += length as u64;
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.get_mut().write_all(bytes).await?;
        self.stream.get_mut().flush().await
    }

    fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("b{}", self.tag)
    }

    /// Reads responses until the tagged one for `tag`.
    pub async fn wait_for(&mut self, tag: &str) -> io::Result<Reply> {
        let mut untagged = Vec::new();
        let prefix = format!("{tag} ");
        loop {
            let response = self.read_response().await?;
            if response.starts_with(prefix.as_bytes()) {
                let status = response[prefix.len()..].to_vec();
                return Ok(Reply { untagged, status });
            }
            if self.keep_untagged {
                untagged.push(response);
            }
        }
    }

    pub async fn command(&mut self, command: &str) -> io::Result<Reply> {
        let tag = self.next_tag();
        self.send(format!("{tag} {command}\r\n").as_bytes()).await?;
        self.wait_for(&tag).await
    }

    /// A command that must succeed.
    pub async fn ok(&mut self, command: &str) -> io::Result<Reply> {
        let reply = self.command(command).await?;
        if !reply.ok() {
            return Err(other(format!("{command}: {}", String::from_utf8_lossy(&reply.status))));
        }
        Ok(reply)
    }

    /// Sends IDLE and waits for the `+` continuation; returns the tag
    /// (DONE ends it with a tagged OK).
    pub async fn idle(&mut self) -> io::Result<String> {
        let tag = self.next_tag();
        self.send(format!("{tag} IDLE\r\n").as_bytes()).await?;
        loop {
            let response = self.read_response().await?;
            if response.starts_with(b"+") {
                return Ok(tag);
            }
            if response.starts_with(format!("{tag} ").as_bytes()) {
                return Err(other(format!("IDLE: {}", String::from_utf8_lossy(&response))));
            }
        }
    }

    pub async fn login(&mut self, user: &str, password: &str) -> io::Result<()> {
        self.ok(&format!("LOGIN {user} \"{password}\"")).await.map(|_| ())
    }

    /// APPEND (several messages: MULTIAPPEND) with LITERAL+.
    pub async fn append(&mut self, mailbox: &str, messages: &[&[u8]]) -> io::Result<Reply> {
        let tag = self.next_tag();
        let mut out = format!("{tag} APPEND {mailbox}").into_bytes();
        for message in messages {
            out.extend_from_slice(format!(" {{{}+}}\r\n", message.len()).as_bytes());
            self.send(&out).await?;
            out.clear();
            self.send(message).await?;
        }
        self.send(b"\r\n").await?;
        let reply = self.wait_for(&tag).await?;
        if !reply.ok() {
            return Err(other(format!("APPEND: {}", String::from_utf8_lossy(&reply.status))));
        }
        Ok(reply)
    }

    /// COMPRESS DEFLATE (RFC 4978); compressed both ways after its OK.
    pub async fn compress(&mut self) -> io::Result<()> {
        self.ok("COMPRESS DEFLATE").await?;
        // Nothing follows the OK until we send: the reader holds no compressed bytes.
        if !self.stream.buffer().is_empty() {
            return Err(other("bytes after COMPRESS's OK"));
        }
        let inner = std::mem::replace(self.stream.get_mut(), Stream::Closed);
        let flags = miniz_oxide::deflate::core::create_comp_flags_from_zip_params(6, -15, 0);
        let deflated = Deflated {
            inner,
            inflater: miniz_oxide::inflate::stream::InflateState::new_boxed(miniz_oxide::DataFormat::Raw),
            compressor: Box::new(miniz_oxide::deflate::core::CompressorOxide::new(flags)),
            raw: Vec::new(),
            raw_start: 0,
            raw_end: 0,
            out: Vec::new(),
            out_start: 0,
            wire_received: 0,
        };
        *self.stream.get_mut() = Stream::Deflate(Box::new(deflated));
        Ok(())
    }

    /// Bytes that came over the socket: compressed ones once compressed.
    pub fn wire_received(&self) -> u64 {
        match self.stream.get_ref() {
            Stream::Deflate(deflated) => deflated.wire_received,
            _ => self.received,
        }
    }

    pub async fn logout(mut self) {
        let _ = self.command("LOGOUT").await;
        let _ = self.stream.get_mut().close().await;
    }
}

/// `{n}` (or `{n+}`) at the end of a line.
pub fn literal_length(line: &[u8]) -> Option<usize> {
    let body = line.strip_suffix(b"}")?;
    let open = body.iter().rposition(|&byte| byte == b'{')?;
    let digits = &body[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The numbers of a `* SEARCH` (or ESEARCH ALL) response.
pub fn search_numbers(reply: &Reply) -> Vec<u32> {
    reply
        .untagged
        .iter()
        .find(|line| line.starts_with(b"* SEARCH"))
        .map(|line| {
            String::from_utf8_lossy(&line[8..]).split_whitespace().filter_map(|number| number.parse().ok()).collect()
        })
        .unwrap_or_default()
}
