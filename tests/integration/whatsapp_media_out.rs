//! Outbound media, receipts, read and presence end to end: the built binary
//! (with the `sim` feature) runs the real whatsapp-rust client per tenant
//! against the simulated network on a loopback socket, whose contacts
//! decrypt what the device uploaded; tenant backends are real HTTP receivers.

use crate::harness;

use std::time::Duration;

use crate::harness::receiver::Receiver;
use crate::harness::sim::*;
use crate::harness::{add_tenant, eventually, http, sha256_hex};
use base64::Engine;
use serde_json::{json, Value};

/// The media cap of these daemons (small, so "too large" is cheap to show).
const CAP: usize = 256 * 1024;

const TENANT_PHONE: &str = "+15550004444";
const CONTACT: &str = "+15557770004";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A real PNG of noise (so it does not compress away): about 30 KB.
fn png() -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    let img = image::RgbImage::from_fn(100, 100, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let [a, b, c, _] = state.to_le_bytes();
        image::Rgb([a, b, c])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).expect("png");
    out.into_inner()
}

/// An Ogg Opus voice note: the `OpusHead` page, a page of 240 filler
/// bytes, and a last page whose granule position says 2 s after the pre-skip.
fn voice_note() -> Vec<u8> {
    fn page(granule: u64, seq: u8, body: &[u8]) -> Vec<u8> {
        let mut p = b"OggS\0\0".to_vec();
        p.extend_from_slice(&granule.to_le_bytes());
        p.extend_from_slice(&[1, 0, 0, 0, seq, 0, 0, 0, 0, 0, 0, 0, 1, body.len() as u8]);
        p.extend_from_slice(body);
        p
    }
    let mut head = b"OpusHead\x01\x01".to_vec();
    head.extend_from_slice(&312u16.to_le_bytes());
    head.extend_from_slice(&48_000u32.to_le_bytes());
    head.extend_from_slice(&[0, 0, 0]);
    let mut file = page(0, 0, &head);
    file.extend(page(48_000, 1, &[0x5a; 240]));
    file.extend(page(96_312, 2, &[0xa5; 200]));
    file
}

/// A multipart/form-data body: text fields, then the file part.
fn form(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "agentlocator-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    if let Some((content_type, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.bin\"\r\n\
                 Content-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn post_form(
    daemon: &harness::Daemon,
    token: &str,
    path: &str,
    form: (String, Vec<u8>),
    key: Option<&str>,
) -> (u16, Value) {
    let mut request =
        http().post(daemon.url(path)).bearer_auth(token).header("Content-Type", form.0).body(form.1);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().expect("post form");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

/// The item the contact received with this message id.
fn received_item(wasim: &Wasim, id: &str) -> Option<Value> {
    wasim.received(CONTACT).into_iter().find(|m| m["id"] == id)
}

fn files_in(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn media_reaches_the_contact_decrypted_and_identical_once_and_bad_files_are_refused() {
    let wasim = Wasim::start();
    let daemon = daemon_on(&wasim, None, &[("AGENTLOCATOR_WHATSAPP__MEDIA_MAX_BYTES", &CAP.to_string())]);
    let token = add_tenant(&daemon, "acme", None);
    let other = add_tenant(&daemon, "beta", None);
    pair(&daemon, &wasim, "acme", TENANT_PHONE);
    let send = "/api/whatsapp/acme/send";

    // An image, as JSON with the file in base64.
    let image = png();
    let body = json!({"to": CONTACT, "media": {"kind": "image", "mimetype": "image/png",
        "data": b64(&image), "caption": "the plan"}});
    let (status, sent) = api_post(&daemon, &token, send, body, None);
    assert_eq!(status, 202, "{sent}");
    assert_eq!(sent["media"], json!({"kind": "image", "bytes": image.len(), "sha256": sha256_hex(&image)}));
    let id = sent["message_id"].as_str().expect("message_id").to_string();
    assert!(
        eventually(Duration::from_secs(15), || received_item(&wasim, &id).is_some()),
        "{:?}",
        wasim.received(CONTACT)
    );
    let got = received_item(&wasim, &id).expect("received");
    let media = &got["media"];
    assert!(media.get("error").is_none(), "the contact could not decrypt it: {got}");
    assert_eq!(media["kind"], "image", "{got}");
    assert_eq!(media["mimetype"], "image/png");
    assert_eq!(media["caption"], "the plan");
    assert_eq!(media["sha256"], sha256_hex(&image));
    assert_eq!(media["bytes"], image.len());
    let data = base64::engine::general_purpose::STANDARD
        .decode(media["data"].as_str().expect("data"))
        .expect("base64");
    assert_eq!(data, image, "the contact decrypted exactly the bytes sent");

    // A voice note, as multipart (mimetype from the part), retried with the
    // same Idempotency-Key: sent once.
    let voice = voice_note();
    let voice_form = || form(&[("to", CONTACT), ("kind", "voice")], Some(("audio/ogg; codecs=opus", &voice)));
    let (status, first) = post_form(&daemon, &token, send, voice_form(), Some("voice-1"));
    assert_eq!(status, 202, "{first}");
    assert_eq!(first["media"]["kind"], "voice");
    assert_eq!(first["media"]["sha256"], sha256_hex(&voice));
    let (status, again) = post_form(&daemon, &token, send, voice_form(), Some("voice-1"));
    assert_eq!(status, 202, "{again}");
    assert_eq!(again["message_id"], first["message_id"]);
    assert_eq!(again["replayed"], true);
    // The same key for other bytes is another message: refused.
    let (status, reused) = post_form(
        &daemon,
        &token,
        send,
        form(&[("to", CONTACT), ("kind", "voice")], Some(("audio/ogg", &voice_note()[..voice.len() - 1]))),
        Some("voice-1"),
    );
    assert_eq!(status, 409, "{reused}");
    let voice_id = first["message_id"].as_str().expect("id").to_string();
    assert!(eventually(Duration::from_secs(15), || received_item(&wasim, &voice_id).is_some()));
    let got = received_item(&wasim, &voice_id).expect("voice");
    assert_eq!(got["media"]["ptt"], true, "{got}");
    assert_eq!(got["media"]["sha256"], sha256_hex(&voice), "{got}");
    assert_eq!(got["media"]["mimetype"], "audio/ogg; codecs=opus");
    assert_eq!(got["media"]["seconds"], 2, "the length read from the Ogg pages: {got}");

    // Over the cap: 413, in either form, and nothing is sent.
    let big = vec![0x42u8; CAP + 1];
    let (status, refused) = post_form(
        &daemon,
        &token,
        send,
        form(
            &[("to", CONTACT), ("kind", "document"), ("file_name", "big.bin")],
            Some(("application/octet-stream", &big)),
        ),
        None,
    );
    assert_eq!((status, refused["error"]["code"].as_str()), (413, Some("too_large")), "{refused}");
    let body = json!({"to": CONTACT, "media": {"kind": "document", "mimetype": "application/octet-stream",
        "data": b64(&big), "file_name": "big.bin"}});
    let (status, refused) = api_post(&daemon, &token, send, body, None);
    assert_eq!((status, refused["error"]["code"].as_str()), (413, Some("too_large")), "{refused}");
    // The JSON form is for small files whatever the cap: its body is read whole.
    let huge = vec![0x42u8; 5 * 1024 * 1024];
    let body = json!({"to": CONTACT, "media": {"kind": "document", "mimetype": "application/octet-stream",
        "data": b64(&huge), "file_name": "huge.bin"}});
    let (status, refused) = api_post(&daemon, &token, send, body, None);
    assert_eq!((status, refused["error"]["code"].as_str()), (413, Some("too_large")), "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap_or_default().contains("multipart"), "{refused}");

    // A PNG declared as Ogg audio: 400 naming what the content is.
    let body =
        json!({"to": CONTACT, "media": {"kind": "voice", "mimetype": "audio/ogg", "data": b64(&image)}});
    let (status, mismatch) = api_post(&daemon, &token, send, body, None);
    assert_eq!((status, mismatch["error"]["code"].as_str()), (400, Some("mimetype_mismatch")), "{mismatch}");
    assert!(mismatch["error"]["message"].as_str().unwrap_or("").contains("image/png"), "{mismatch}");
    // A sticker must be WebP; an unknown kind and a bad base64 are invalid.
    let body =
        json!({"to": CONTACT, "media": {"kind": "sticker", "mimetype": "image/png", "data": b64(&image)}});
    assert_eq!(api_post(&daemon, &token, send, body, None).0, 400);
    let body = json!({"to": CONTACT, "media": {"kind": "gif", "mimetype": "image/png", "data": b64(&image)}});
    let (status, bad) = api_post(&daemon, &token, send, body, None);
    assert_eq!((status, bad["error"]["code"].as_str()), (400, Some("invalid")), "{bad}");
    let body =
        json!({"to": CONTACT, "media": {"kind": "image", "mimetype": "image/png", "data": "not base64!"}});
    assert_eq!(api_post(&daemon, &token, send, body, None).0, 400);

    // Staged files are gone, sent or refused.
    let staging = daemon.data_dir.join("tenants/acme/outgoing");
    assert_eq!(files_in(&staging), 0, "temp files left in {}", staging.display());
    // A fixed wait: that nothing more reaches the contact is what is asserted.
    std::thread::sleep(Duration::from_millis(500));
    let ids: Vec<Value> = wasim.received(CONTACT).iter().map(|m| m["id"].clone()).collect();
    assert_eq!(ids, [json!(id), json!(voice_id)], "exactly the two good sends reached the contact");

    // Another tenant's token sees none of acme's routes.
    for (path, body) in [
        (send, json!({"to": CONTACT, "text": "hi"})),
        ("/api/whatsapp/acme/read", json!({"chat": CONTACT, "message_ids": ["X"]})),
        ("/api/whatsapp/acme/presence", json!({"chat": CONTACT, "state": "composing"})),
    ] {
        let (status, body) = api_post(&daemon, &other, path, body, None);
        assert_eq!(status, 404, "{path}: {body}");
    }
    let (status, _) = post_form(&daemon, &other, send, voice_form(), None);
    assert_eq!(status, 404);
    // The send route has its own limits but the same 405 as every route.
    let get = http().get(daemon.url(send)).bearer_auth(&token).send().expect("get");
    assert_eq!(get.status().as_u16(), 405);
}

#[test]
fn receipts_become_events_and_reads_and_typing_reach_the_contact() {
    let wasim = Wasim::start();
    let receiver = Receiver::ok();
    let daemon = daemon(&wasim);
    let token = add_tenant(&daemon, "acme", Some(&receiver.url()));
    let idle = add_tenant(&daemon, "idle", None);
    pair(&daemon, &wasim, "acme", TENANT_PHONE);

    let (status, sent) = api_post(
        &daemon,
        &token,
        "/api/whatsapp/acme/send",
        json!({"to": CONTACT, "text": "your order"}),
        None,
    );
    assert_eq!(status, 202, "{sent}");
    let id = sent["message_id"].as_str().expect("id").to_string();
    let receipts = |status: &str| -> Vec<Value> {
        receiver
            .received()
            .iter()
            .map(|r| r.json())
            .filter(|e| e["type"] == "whatsapp.receipt" && e["data"]["status"] == status)
            .collect()
    };
    // The contact's phone confirms delivery by itself.
    assert!(
        eventually(Duration::from_secs(15), || !receipts("delivered").is_empty()),
        "{:?}",
        receiver.received().len()
    );
    let delivered = &receipts("delivered")[0]["data"];
    assert_eq!(delivered["message_id"], id.as_str());
    assert_eq!(delivered["chat"], format!("{}@s.whatsapp.net", &CONTACT[1..]));
    assert!(delivered["at"].as_str().is_some_and(|at| at.contains('T')), "{delivered}");

    // Read (sent twice, as a phone may) and played: one event each.
    for kind in ["read", "read", "played"] {
        let (status, body) = wasim
            .post("/admin/receipt", json!({"from": CONTACT, "to": TENANT_PHONE, "ids": [id], "type": kind}));
        assert_eq!(status, 200, "{body}");
    }
    assert!(eventually(Duration::from_secs(15), || !receipts("played").is_empty()));
    // A fixed wait: that no second receipt event follows is what is asserted.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(receipts("read").len(), 1, "a resent receipt is stored once");
    assert_eq!(receipts("read")[0]["data"]["message_id"], id.as_str());
    assert_eq!(receipts("delivered").len(), 1);

    // The backend marks a contact's message read.
    let inbound = wasim.send(CONTACT, TENANT_PHONE, "is it shipped?");
    let read = json!({"chat": CONTACT, "message_ids": [inbound]});
    let (status, body) = api_post(&daemon, &token, "/api/whatsapp/acme/read", read, None);
    assert_eq!(status, 204, "{body}");
    let reads = || wasim.get(&format!("/admin/reads?phone={TENANT_PHONE}"));
    assert!(
        eventually(Duration::from_secs(10), || reads()
            .as_array()
            .is_some_and(|r| r.iter().any(|e| e["type"] == "read" && e["ids"] == json!([inbound])))),
        "{}",
        reads()
    );

    // ... and shows it is typing, then recording.
    for state in ["composing", "recording"] {
        let body = json!({"chat": CONTACT, "state": state});
        let (status, answer) = api_post(&daemon, &token, "/api/whatsapp/acme/presence", body, None);
        assert_eq!(status, 204, "{answer}");
    }
    let presence = || wasim.get(&format!("/admin/presence?phone={TENANT_PHONE}"));
    assert!(
        eventually(Duration::from_secs(10), || {
            let states: Vec<Value> = presence().as_array().cloned().unwrap_or_default();
            states.iter().any(|s| s["state"] == "recording")
                && states.iter().any(|s| s["state"] == "composing")
        }),
        "{}",
        presence()
    );
    let shown = presence();
    assert!(
        shown
            .as_array()
            .expect("list")
            .iter()
            .all(|s| s["to"] == CONTACT || s["to"].as_str().is_some_and(|t| t.starts_with(&CONTACT[1..]))),
        "{shown}"
    );

    // Bad input: 400; a tenant that is not connected: 409.
    let bad = [
        ("/api/whatsapp/acme/read", json!({"chat": CONTACT, "message_ids": []})),
        ("/api/whatsapp/acme/read", json!({"chat": CONTACT, "message_ids": ["has space"]})),
        ("/api/whatsapp/acme/read", json!({"chat": "5557770004", "message_ids": ["A"]})),
        ("/api/whatsapp/acme/presence", json!({"chat": CONTACT, "state": "typing"})),
    ];
    for (path, body) in bad {
        let (status, answer) = api_post(&daemon, &token, path, body.clone(), None);
        assert_eq!(status, 400, "{path} {body}: {answer}");
    }
    let (status, answer) = api_post(
        &daemon,
        &idle,
        "/api/whatsapp/idle/presence",
        json!({"chat": CONTACT, "state": "paused"}),
        None,
    );
    assert_eq!((status, answer["error"]["code"].as_str()), (409, Some("not_connected")), "{answer}");
}
