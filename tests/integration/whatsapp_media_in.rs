//! Inbound WhatsApp media end to end: a simulated contact sends an image, a
//! voice note or a document (encrypted and hosted by wasim as WhatsApp's CDN
//! does); the daemon built with the `sim` feature downloads and decrypts it
//! with the real whatsapp-rust client, stores it, and releases the event
//! with a URL that serves exactly the contact's bytes.

use crate::harness;

use std::path::Path;
use std::time::Duration;

use crate::harness::receiver::Receiver;
use crate::harness::sim::*;
use crate::harness::store::on_postgres;
use crate::harness::stored;
use crate::harness::{add_tenant, eventually, http, mode, sha256_hex};
use base64::Engine as _;
use serde_json::{json, Value};

const PHONE: &str = "+15550001111";
const CONTACT: &str = "+15557770001";
/// Long enough for a download, a few retries and the delivery.
const EVENT_WAIT: Duration = Duration::from_secs(30);

/// A daemon whose background jobs retry quickly.
fn media_daemon(
    wasim: &Wasim,
    data_dir: Option<std::path::PathBuf>,
    extra: &[(&str, &str)],
) -> harness::Daemon {
    let mut env =
        vec![("AGENTLOCATOR_JOBS__BACKOFF_BASE_MS", "100"), ("AGENTLOCATOR_JOBS__BACKOFF_CAP_MS", "300")];
    env.extend_from_slice(extra);
    daemon_on(wasim, data_dir, &env)
}

/// `len` bytes that start like a file of that type and differ per call.
fn file_like(magic: &[u8], len: usize, seed: u8) -> Vec<u8> {
    let mut bytes = magic.to_vec();
    bytes.extend((0..len.saturating_sub(magic.len())).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    bytes
}

/// A contact sends media (`media` as wasim's admin API takes it, plus the bytes).
fn send_media(wasim: &Wasim, from: &str, mut media: Value, bytes: &[u8]) -> String {
    media["data"] = json!(base64::engine::general_purpose::STANDARD.encode(bytes));
    let (status, body) = wasim.post("/admin/send", json!({"from": from, "to": PHONE, "media": media}));
    assert_eq!(status, 200, "send media: {body}");
    body["id"].as_str().expect("id").to_string()
}

fn media_fault(wasim: &Wasim, fault: Value) {
    let (status, _) = wasim.post("/admin/media-fault", fault.clone());
    assert_eq!(status, 200, "media fault {fault}");
}

fn media_downloads(wasim: &Wasim) -> u64 {
    wasim.get("/admin/media-stats")["downloads"].as_u64().expect("downloads")
}

/// Every `whatsapp.message` event the backend got for message `id`.
fn events_for(receiver: &Receiver, id: &str) -> Vec<Value> {
    receiver
        .received()
        .iter()
        .map(|r| r.json())
        .filter(|e| e["type"] == "whatsapp.message" && e["data"]["id"] == id)
        .collect()
}

/// Waits for the first event of message `id`, then a little longer to see
/// that no second one follows.
fn the_one_event(receiver: &Receiver, daemon: &harness::Daemon, id: &str) -> Value {
    assert!(
        eventually(EVENT_WAIT, || !events_for(receiver, id).is_empty()),
        "no event for {id}; log tail:\n{}",
        daemon.log_tail()
    );
    // A fixed wait: that no second event follows is what is asserted.
    std::thread::sleep(Duration::from_millis(700));
    let events = events_for(receiver, id);
    assert_eq!(events.len(), 1, "delivered once: {events:?}");
    events[0]["data"].clone()
}

/// GETs a media URL with a bearer token: (status, content type, bytes).
fn fetch(url: &str, token: &str) -> (u16, String, Vec<u8>) {
    let response = http().get(url).bearer_auth(token).send().expect("get media");
    let status = response.status().as_u16();
    let kind =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    (status, kind, response.bytes().expect("body").to_vec())
}

/// The stored name of an event's media: its id, the last part of its URL.
fn stored_name(data: &Value) -> String {
    let url = data["media"]["url"].as_str().expect("media url");
    url.rsplit('/').next().expect("id").to_string()
}

fn files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_contacts_image_voice_note_and_pdf_reach_the_backend_as_urls_serving_their_bytes() {
    let wasim = Wasim::start();
    let receiver = Receiver::ok();
    let daemon = media_daemon(&wasim, None, &[]);
    let token = add_tenant(&daemon, "acme", Some(&receiver.url()));
    let other_token = add_tenant(&daemon, "globex", None);
    pair(&daemon, &wasim, "acme", PHONE);

    let image = file_like(b"\x89PNG\r\n\x1a\n", 300_000, 1);
    let voice = file_like(b"OggS", 40_000, 2);
    let pdf = file_like(b"%PDF-1.7\n", 120_000, 3);
    let sent = [
        (
            send_media(
                &wasim,
                CONTACT,
                json!({"kind": "image", "mimetype": "image/png", "caption": "my cat"}),
                &image,
            ),
            &image,
            "image/png",
        ),
        (
            send_media(
                &wasim,
                CONTACT,
                json!({"kind": "voice", "mimetype": "audio/ogg; codecs=opus", "seconds": 7}),
                &voice,
            ),
            &voice,
            "audio/ogg; codecs=opus",
        ),
        (
            send_media(
                &wasim,
                CONTACT,
                json!({"kind": "document", "mimetype": "application/pdf", "file_name": "invoice.pdf", "caption": "the invoice"}),
                &pdf,
            ),
            &pdf,
            "application/pdf",
        ),
    ];
    let mut urls = Vec::new();
    for (id, bytes, mimetype) in sent {
        let data = the_one_event(&receiver, &daemon, &id);
        let media = &data["media"];
        assert_eq!(media["status"], "stored", "{data}");
        assert_eq!(media["mimetype"], mimetype, "{data}");
        assert_eq!(media["bytes"], bytes.len(), "{data}");
        assert_eq!(media["sha256"], sha256_hex(bytes), "{data}");
        assert!(data.get("media_download").is_none(), "what a download needs stays private: {data}");
        let url = media["url"].as_str().expect("url").to_string();
        assert!(url.starts_with(&daemon.url("/api/whatsapp/acme/media/")), "{url}");
        let (status, kind, served) = fetch(&url, &token);
        assert_eq!((status, kind.as_str()), (200, mimetype));
        assert_eq!(sha256_hex(&served), sha256_hex(bytes), "the URL serves exactly the contact's bytes");
        urls.push((url, data));
    }
    let voice_data = &urls[1].1;
    assert_eq!(
        (voice_data["type"].as_str(), voice_data["media"]["voice_note"].as_bool()),
        (Some("audio"), Some(true))
    );
    assert_eq!(voice_data["media"]["duration_s"], 7);
    let pdf_data = &urls[2].1;
    assert_eq!(pdf_data["type"], "document");
    assert_eq!(
        (pdf_data["media"]["file_name"].as_str(), pdf_data["text"].as_str()),
        (Some("invoice.pdf"), Some("the invoice"))
    );
    assert_eq!(urls[0].1["text"], "my cat");

    // Only its own tenant (or the operator) reaches it.
    assert_eq!(fetch(&urls[0].0, &other_token).0, 404, "another tenant's token gets 404");
    assert_eq!(fetch(&urls[0].0, SECRET).0, 200, "the internal secret reaches every tenant's media");

    let files = stored::stored_files(&daemon, "acme", stored::MEDIA);
    assert_eq!(files.len(), 3, "{files:?}");
    assert_eq!(stored::leftovers(&daemon, "acme", stored::MEDIA), Vec::<String>::new());
    if !on_postgres() {
        let dir = stored::dir(&daemon.data_dir, "acme", stored::MEDIA);
        assert_eq!(mode(&dir), 0o700);
        for (file, _) in files {
            assert_eq!(mode(&dir.join(&file)), 0o600, "{file}");
        }
    }
}

#[test]
fn a_download_that_fails_twice_then_succeeds_is_delivered_once() {
    let wasim = Wasim::start();
    let receiver = Receiver::ok();
    let daemon = media_daemon(&wasim, None, &[]);
    let token = add_tenant(&daemon, "acme", Some(&receiver.url()));
    pair(&daemon, &wasim, "acme", PHONE);

    media_fault(&wasim, json!({"fail_next": 2, "status": 500}));
    let image = file_like(b"\xff\xd8\xff\xe0", 50_000, 9);
    let id = send_media(&wasim, CONTACT, json!({"kind": "image", "mimetype": "image/jpeg"}), &image);
    let data = the_one_event(&receiver, &daemon, &id);
    assert_eq!(data["media"]["status"], "stored", "{data}");
    assert_eq!(data["media"]["attempts"], 3, "two failed attempts, then the one that worked: {data}");
    assert_eq!(media_downloads(&wasim), 1, "one complete download");
    let (status, _, served) = fetch(data["media"]["url"].as_str().expect("url"), &token);
    assert_eq!((status, sha256_hex(&served)), (200, sha256_hex(&image)));
}

#[test]
fn a_sigkill_during_a_download_loses_nothing_and_doubles_nothing() {
    let wasim = Wasim::start();
    let receiver = Receiver::ok();
    let mut daemon = media_daemon(&wasim, None, &[]);
    let token = add_tenant(&daemon, "acme", Some(&receiver.url()));
    pair(&daemon, &wasim, "acme", PHONE);

    // About eight seconds of download: long enough to kill it half-way.
    media_fault(&wasim, json!({"throttle_bytes_per_s": 100_000}));
    let video = file_like(b"\x00\x00\x00\x18ftypmp42", 800_000, 5);
    let id =
        send_media(&wasim, CONTACT, json!({"kind": "video", "mimetype": "video/mp4", "seconds": 3}), &video);
    let dir = daemon.data_dir.join("tenants/acme/media");
    let part_size = || {
        files_in(&dir)
            .iter()
            .filter(|f| f.ends_with(".part"))
            .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
            .map(|m| m.len())
            .max()
            .unwrap_or(0)
    };
    assert!(
        eventually(Duration::from_secs(20), || part_size() > 0),
        "the download never started; log tail:\n{}",
        daemon.log_tail()
    );
    assert!(events_for(&receiver, &id).is_empty(), "held until the file is there");
    let data_dir = daemon.data_dir.clone();
    daemon.kill();
    media_fault(&wasim, json!({"reset": true}));

    let daemon = media_daemon(&wasim, Some(data_dir), &[]);
    let data = the_one_event(&receiver, &daemon, &id);
    assert_eq!(data["media"]["status"], "stored", "{data}");
    let (status, _, served) = fetch(data["media"]["url"].as_str().expect("url"), &token);
    assert_eq!((status, served.len(), sha256_hex(&served)), (200, video.len(), sha256_hex(&video)));
    let files = stored::stored_files(&daemon, "acme", stored::MEDIA);
    assert_eq!(files, [(stored_name(&data), video.len() as u64)], "one stored file");
    assert_eq!(stored::leftovers(&daemon, "acme", stored::MEDIA), Vec::<String>::new(), "no leftover .part");
}

#[test]
fn media_over_the_cap_is_too_large_and_never_downloaded() {
    let wasim = Wasim::start();
    let receiver = Receiver::ok();
    let daemon = media_daemon(&wasim, None, &[("AGENTLOCATOR_WHATSAPP__MEDIA_MAX_BYTES", "10000")]);
    add_tenant(&daemon, "acme", Some(&receiver.url()));
    pair(&daemon, &wasim, "acme", PHONE);

    let big = file_like(b"%PDF-1.7\n", 50_000, 7);
    let id = send_media(
        &wasim,
        CONTACT,
        json!({"kind": "document", "mimetype": "application/pdf", "file_name": "big.pdf"}),
        &big,
    );
    let data = the_one_event(&receiver, &daemon, &id);
    let media = &data["media"];
    assert_eq!(media["status"], "too_large", "{data}");
    assert!(media["error"].as_str().unwrap_or_default().contains("media_max_bytes"), "{data}");
    assert!(media.get("url").is_none(), "{data}");
    assert_eq!((media["bytes"].as_u64(), media["file_name"].as_str()), (Some(50_000), Some("big.pdf")));
    assert_eq!(media_downloads(&wasim), 0, "nothing over the cap is fetched");

    // Below the cap, the same tenant's media still flows.
    let small = file_like(b"%PDF-1.7\n", 5_000, 8);
    let id = send_media(&wasim, CONTACT, json!({"kind": "document", "mimetype": "application/pdf"}), &small);
    assert_eq!(the_one_event(&receiver, &daemon, &id)["media"]["status"], "stored");
}

/// A slow server (every frame 60 ms late) reorders nothing we rely on: the
/// media query, the download and the acknowledgement still come in the right
/// order, and text and media sent back to back both arrive once.
#[test]
fn media_and_text_flow_against_a_slow_server() {
    let wasim = Wasim::start_with(wasim::Sim::new().with_latency(Duration::from_millis(60)));
    let receiver = Receiver::ok();
    let daemon = media_daemon(&wasim, None, &[]);
    let token = add_tenant(&daemon, "acme", Some(&receiver.url()));
    pair(&daemon, &wasim, "acme", PHONE);

    let sticker = file_like(b"RIFF\x00\x00\x00\x00WEBPVP8 ", 20_000, 4);
    let media_id =
        send_media(&wasim, CONTACT, json!({"kind": "sticker", "mimetype": "image/webp"}), &sticker);
    let text_id = wasim.send(CONTACT, PHONE, "and a word");
    let data = the_one_event(&receiver, &daemon, &media_id);
    assert_eq!((data["type"].as_str(), data["media"]["status"].as_str()), (Some("sticker"), Some("stored")));
    let (status, _, served) = fetch(data["media"]["url"].as_str().expect("url"), &token);
    assert_eq!((status, sha256_hex(&served)), (200, sha256_hex(&sticker)));
    assert_eq!(the_one_event(&receiver, &daemon, &text_id)["text"], "and a word");
}
