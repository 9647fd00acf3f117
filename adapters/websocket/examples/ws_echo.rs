//! Manual check: a WebSocket endpoint that echoes the byte stream back.
//! `cargo run -p junction-websocket --example ws_echo -- 127.0.0.1:18081 [compress]`

use std::time::Duration;

use junction_websocket::{accept, WsConfig};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:18081".into());
    let cfg = WsConfig {
        compression: args.next().as_deref() == Some("compress"),
        handshake_timeout: Duration::from_secs(2),
        ..WsConfig::default()
    };
    let listener = TcpListener::bind(&addr).await?;
    let local = listener.local_addr()?;
    eprintln!("echoing on ws://{local}/ (compression: {})", cfg.compression);
    loop {
        let (tcp, peer) = listener.accept().await?;
        let cfg = cfg.clone();
        tokio::spawn(async move {
            match accept(tcp, peer, local, &cfg).await {
                Ok(mut ws) => {
                    eprintln!("{peer}: upgraded, compressed: {}", ws.compressed);
                    let copied = tokio::io::copy(&mut ws.reader, &mut ws.writer).await;
                    eprintln!("{peer}: done after {copied:?}");
                }
                Err(e) => eprintln!("{peer}: {e}"),
            }
        });
    }
}
