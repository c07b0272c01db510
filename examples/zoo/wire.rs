//! The zoo's services talk in lines of text over `sim::net` TCP: this is
//! the one helper they share, so each entry shows only its own story.

use std::io;

use futures::StreamExt;
use futures::io::{
    AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines, ReadHalf, WriteHalf,
};
use sim::net::{TcpStream, ToSimAddr};

/// A TCP connection that carries lines.
#[derive(Debug)]
pub struct Conn {
    lines: Lines<BufReader<ReadHalf<TcpStream>>>,
    writer: WriteHalf<TcpStream>,
}

impl Conn {
    /// Connects to `addr` (`"server:7000"`).
    pub async fn connect(addr: impl ToSimAddr) -> io::Result<Conn> {
        Ok(Conn::new(TcpStream::connect(addr).await?))
    }

    /// Wraps an established stream (an accepted one).
    pub fn new(stream: TcpStream) -> Conn {
        let (reader, writer) = stream.split();
        Conn {
            lines: BufReader::new(reader).lines(),
            writer,
        }
    }

    /// Sends one line (the newline is added).
    pub async fn send(&mut self, line: &str) -> io::Result<()> {
        self.writer.write_all(format!("{line}\n").as_bytes()).await
    }

    /// The next line, or `None` at the end of the stream.
    pub async fn recv(&mut self) -> io::Result<Option<String>> {
        self.lines.next().await.transpose()
    }

    /// Sends a request and reads one line as its answer; the end of the
    /// stream is an `UnexpectedEof` error.
    pub async fn call(&mut self, request: &str) -> io::Result<String> {
        self.send(request).await?;
        self.recv().await?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the connection closed before the answer to `{request}`"),
            )
        })
    }
}
