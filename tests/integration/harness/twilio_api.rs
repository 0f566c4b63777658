//! A stand-in for the Twilio API's recording endpoint (plain HTTP/1.1 on a
//! loopback socket, one thread per connection, basic auth checked), able to
//! serve a body of any size generated on the fly, and a listener that only
//! counts the connections it gets (the "attacker" of the SSRF tests).

use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use sha2::Digest;

use super::RequestHead;

/// How the fake API answers for one RecordingSid.
#[derive(Debug, Clone, Copy)]
pub enum Serve {
    /// A WAV of `samples` 16-bit samples at 8 kHz (the default: 8000).
    Wav(usize),
    /// 500 twice, then the default WAV.
    Flaky,
    /// Never answers.
    Hang,
    /// `len` bytes from [`generated`]; with or without a Content-Length.
    Generated { len: u64, content_length: bool },
}

#[derive(Default)]
struct Shared {
    /// Expected `Authorization` value per account SID.
    accepted: HashMap<String, String>,
    serve: Mutex<HashMap<String, Serve>>,
    hits: Mutex<HashMap<String, usize>>,
    paths: Mutex<Vec<String>>,
    down: AtomicBool,
    bad_auth: AtomicUsize,
}

pub struct FakeTwilio {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl FakeTwilio {
    /// Accepts basic auth of each (account SID, auth token).
    pub fn start(accounts: &[(&str, &str)]) -> FakeTwilio {
        let accepted = accounts
            .iter()
            .map(|(account, token)| {
                let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{account}:{token}"));
                (account.to_string(), format!("Basic {encoded}"))
            })
            .collect();
        let shared = Arc::new(Shared { accepted, ..Default::default() });
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake twilio");
        let addr = listener.local_addr().expect("addr");
        let state = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let state = state.clone();
                std::thread::spawn(move || answer(&state, stream));
            }
        });
        FakeTwilio { addr, shared }
    }

    pub fn serve(&self, recording_sid: &str, how: Serve) {
        self.shared.serve.lock().expect("serve").insert(recording_sid.to_string(), how);
    }

    /// Requests with good credentials for this file (`RE....wav`).
    pub fn hits(&self, file: &str) -> usize {
        self.shared.hits.lock().expect("hits").get(file).copied().unwrap_or(0)
    }

    /// Every request path received, credentials good or not.
    pub fn paths(&self) -> Vec<String> {
        self.shared.paths.lock().expect("paths").clone()
    }

    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }

    pub fn bad_auth(&self) -> usize {
        self.shared.bad_auth.load(Ordering::SeqCst)
    }
}

fn answer(state: &Shared, mut stream: TcpStream) {
    let Some(head) = RequestHead::read(&mut stream) else { return };
    let (path, auth) = (head.path.clone(), head.header("authorization").map(str::to_string));
    state.paths.lock().expect("paths").push(path.clone());
    let route = path.strip_prefix("/2010-04-01/Accounts/").and_then(|rest| rest.split_once("/Recordings/"));
    let Some((account, file)) = route else { return reply(&mut stream, 404, "no such route") };
    if auth.is_none() || state.accepted.get(account) != auth.as_ref() {
        state.bad_auth.fetch_add(1, Ordering::SeqCst);
        return reply(&mut stream, 401, "bad credentials");
    }
    let n = {
        let mut hits = state.hits.lock().expect("hits");
        let n = hits.entry(file.to_string()).or_default();
        *n += 1;
        *n
    };
    if state.down.load(Ordering::SeqCst) {
        return reply(&mut stream, 503, "down");
    }
    let Some(sid) = file.strip_suffix(".wav") else { return reply(&mut stream, 404, "wav only") };
    let how = state.serve.lock().expect("serve").get(sid).copied().unwrap_or(Serve::Wav(8000));
    match how {
        Serve::Hang => std::thread::sleep(Duration::from_secs(3600)),
        Serve::Flaky if n <= 2 => reply(&mut stream, 500, "try again"),
        Serve::Flaky => send_body(&mut stream, &wav(8000)),
        Serve::Wav(samples) => send_body(&mut stream, &wav(samples)),
        Serve::Generated { len, content_length } => {
            let length = if content_length { format!("Content-Length: {len}\r\n") } else { String::new() };
            let head =
                format!("HTTP/1.1 200 OK\r\nContent-Type: audio/x-wav\r\n{length}Connection: close\r\n\r\n");
            if stream.write_all(head.as_bytes()).is_ok() {
                // The daemon may hang up early (a cap): stop at the first error.
                let mut ok = true;
                generated(len, &mut |chunk| ok = ok && stream.write_all(chunk).is_ok());
            }
        }
    }
}

fn reply(stream: &mut TcpStream, status: u16, text: &str) {
    let head = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", text.len());
    let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(text.as_bytes()));
}

fn send_body(stream: &mut TcpStream, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: audio/x-wav\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body));
}

/// A 44-byte PCM WAV header (8 kHz, mono, 16-bit: 16000 bytes/s).
pub fn wav_header(data_len: u32) -> Vec<u8> {
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&36u32.wrapping_add(data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&8000u32.to_le_bytes());
    wav.extend_from_slice(&16000u32.to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    wav
}

pub fn wav(samples: usize) -> Vec<u8> {
    let data = samples * 2;
    let mut wav = wav_header(data as u32);
    wav.extend((0..data).map(|i| (i % 251) as u8));
    wav
}

/// `len` bytes (a WAV header, then a repeating pattern) handed to `sink` in
/// 64 KiB pieces, so neither side ever holds the whole body.
pub fn generated(len: u64, sink: &mut dyn FnMut(&[u8])) {
    let header = wav_header(u32::try_from(len.saturating_sub(44)).unwrap_or(u32::MAX));
    let block: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
    let head = header.len().min(len as usize);
    sink(&header[..head]);
    let mut left = len - head as u64;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        sink(&block[..n]);
        left -= n as u64;
    }
}

/// (bytes, hex SHA-256) of [`generated`]`(len)`, computed as it is generated.
pub fn generated_digest(len: u64) -> String {
    let mut hash = sha2::Sha256::new();
    generated(len, &mut |chunk| hash.update(chunk));
    hex::encode(hash.finalize())
}

/// A listener that accepts and counts connections, and answers nothing.
pub struct Attacker {
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
}

impl Attacker {
    pub fn start() -> Attacker {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind attacker");
        let addr = listener.local_addr().expect("addr");
        let connections = Arc::new(AtomicUsize::new(0));
        let count = connections.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                count.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        Attacker { addr, connections }
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}
