//! Media, receipts, presence, history sync and latency: the real whatsapp-rust 0.7
//! client against the simulator (in-process transport; the media host and admin
//! API over a real 127.0.0.1 listener).

use std::time::Duration;

use crate::common::{Http, STEP, TestBot, paired};
use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wasim::{MediaKind, MediaSpec, Sim};
use whatsapp_rust::ChatStateType;
use whatsapp_rust::download::MediaType;
use whatsapp_rust::prelude::*;
use whatsapp_rust::types::presence::ReceiptType;
use whatsapp_rust::upload::UploadOptions;

fn sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Deterministic, non-repeating test bytes.
fn file(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1] ^ seed).collect()
}

fn spec(kind: MediaKind, data: &[u8]) -> MediaSpec {
    MediaSpec { kind, mimetype: None, data: data.to_vec(), caption: None, file_name: None, seconds: None }
}

/// The first inbound message with id `id`, as the client decoded it.
async fn wait_message(bot: &mut TestBot, id: &str) -> wa::Message {
    let want = id.to_string();
    bot.wait(&format!("message {id}"), move |e| match e {
        Event::Messages(b) => {
            b.messages.iter().find(|m| m.info.id == want).map(|m| m.message.get_base_message().clone())
        }
        _ => None,
    })
    .await
}

async fn download<D: whatsapp_rust::download::Downloadable>(bot: &TestBot, d: &D) -> anyhow::Result<Vec<u8>> {
    let out = tokio::time::timeout(STEP, bot.client.download_to_writer(d, std::io::Cursor::new(Vec::new())))
        .await
        .expect("download in time")?;
    Ok(out.into_inner())
}

struct Admin {
    http: reqwest::Client,
    base: String,
}

impl Admin {
    fn new(h: &Http) -> Admin {
        Admin { http: reqwest::Client::builder().timeout(STEP).build().unwrap(), base: h.base.clone() }
    }
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let resp = self.http.post(format!("{}{path}", self.base)).json(&body).send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json::<Value>().await.unwrap_or(Value::Null))
    }
    async fn get(&self, path: &str) -> Value {
        self.http.get(format!("{}{path}", self.base)).send().await.unwrap().json::<Value>().await.unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contacts_image_voice_and_document_download_byte_exact() {
    let sim = Sim::new();
    let http = Http::start(&sim).await;
    let admin = Admin::new(&http);
    let dir = tempfile::tempdir().unwrap();
    let mut bot = paired(&sim, dir.path(), "+15550040001").await;
    sim.wait_for(STEP, |c| c.prekey_uploads >= 1).await.unwrap();

    let image = file(70_000, 1);
    let voice = file(12_345, 2);
    let doc = file(3_000, 3);
    // The image goes through the admin API (base64), the others through the Rust API.
    let (status, body) = admin
        .post(
            "/admin/send",
            json!({"from": "+15557770040", "to": "+15550040001", "media": {
                "kind": "image", "mimetype": "image/png", "caption": "a cat",
                "data": base64::engine::general_purpose::STANDARD.encode(&image)}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let image_id = body["id"].as_str().unwrap().to_string();
    let voice_id = sim
        .send_media(
            "+15557770040",
            "+15550040001",
            &MediaSpec { seconds: Some(7), ..spec(MediaKind::Voice, &voice) },
        )
        .await
        .unwrap();
    let doc_id = sim
        .send_media(
            "+15557770040",
            "+15550040001",
            &MediaSpec {
                mimetype: Some("application/pdf".into()),
                file_name: Some("report.pdf".into()),
                ..spec(MediaKind::Document, &doc)
            },
        )
        .await
        .unwrap();

    let msg = wait_message(&mut bot, &image_id).await;
    let img = msg.image_message.as_option().expect("an ImageMessage");
    assert_eq!(img.caption.as_deref(), Some("a cat"));
    assert_eq!(img.mimetype.as_deref(), Some("image/png"));
    assert_eq!(img.file_length, Some(image.len() as u64));
    let host = sim.media_host().unwrap();
    assert!(img.url.as_deref().unwrap().starts_with(&format!("https://{host}/v/")), "{:?}", img.url);
    assert_eq!(sha(&download(&bot, img).await.unwrap()), sha(&image));

    let msg = wait_message(&mut bot, &voice_id).await;
    let audio = msg.audio_message.as_option().expect("an AudioMessage");
    assert_eq!((audio.ptt, audio.seconds), (Some(true), Some(7)));
    assert_eq!(sha(&download(&bot, audio).await.unwrap()), sha(&voice));

    let msg = wait_message(&mut bot, &doc_id).await;
    let d = msg.document_message.as_option().expect("a DocumentMessage");
    assert_eq!(d.file_name.as_deref(), Some("report.pdf"));
    assert_eq!(d.mimetype.as_deref(), Some("application/pdf"));
    assert_eq!(download(&bot, d).await.unwrap(), doc);

    let stats = admin.get("/admin/media-stats").await;
    assert_eq!(stats, json!({"downloads": 3, "uploads": 0, "failed_injected": 0}));

    let (status, _) = admin
        .post(
            "/admin/send",
            json!({"from": "+1", "to": "+15550040001", "media": {"kind": "gif", "data": ""}}),
        )
        .await;
    assert_eq!(status, 400);
    bot.stop().await;
    http.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_next_fails_two_downloads_then_the_third_works() {
    let sim = Sim::new();
    let http = Http::start(&sim).await;
    let admin = Admin::new(&http);
    let dir = tempfile::tempdir().unwrap();
    let mut bot = paired(&sim, dir.path(), "+15550040002").await;
    sim.wait_for(STEP, |c| c.prekey_uploads >= 1).await.unwrap();
    let data = file(5_000, 9);
    let id = sim.send_media("+15557770041", "+15550040002", &spec(MediaKind::Image, &data)).await.unwrap();
    let msg = wait_message(&mut bot, &id).await;
    let img = msg.image_message.as_option().unwrap();

    let (status, body) = admin.post("/admin/media-fault", json!({"fail_next": 2, "status": 503})).await;
    assert_eq!(status, 200, "{body}");
    let e1 = download(&bot, img).await.unwrap_err();
    assert!(format!("{e1:#}").contains("503"), "{e1:#}");
    download(&bot, img).await.unwrap_err();
    assert_eq!(download(&bot, img).await.unwrap(), data);
    let stats = admin.get("/admin/media-stats").await;
    assert_eq!(
        (stats["failed_injected"].as_u64(), stats["downloads"].as_u64()),
        (Some(2), Some(1)),
        "{stats}"
    );
    bot.stop().await;
    http.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_download_streams_and_an_abandoned_one_is_not_counted() {
    let sim = Sim::new();
    let http = Http::start(&sim).await;
    let admin = Admin::new(&http);
    let dir = tempfile::tempdir().unwrap();
    let mut bot = paired(&sim, dir.path(), "+15550040003").await;
    sim.wait_for(STEP, |c| c.prekey_uploads >= 1).await.unwrap();
    let data = file(40_000, 4);
    let id = sim.send_media("+15557770042", "+15550040003", &spec(MediaKind::Video, &data)).await.unwrap();
    let msg = wait_message(&mut bot, &id).await;
    let video = msg.video_message.as_option().unwrap();
    let path = video.direct_path.clone().unwrap();
    let url = format!("{}{path}?auth={}", http.base, sim.media_auth());

    admin.post("/admin/media-fault", json!({"throttle_bytes_per_s": 20_000})).await;
    let mut resp = admin.http.get(&url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let first = resp.chunk().await.unwrap().expect("a first chunk");
    assert!(first.len() < data.len(), "the body comes in pieces, not at once");
    drop(resp); // the client dies mid-download
    // A fixed wait: that the download is never counted is what is asserted.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sim.media_stats().downloads, 0, "an abandoned download is not a download");

    let (_, body) = admin.post("/admin/media-fault", json!({"reset": true})).await;
    assert_eq!(body["throttle_bytes_per_s"], 0);
    assert_eq!(download(&bot, video).await.unwrap(), data);
    assert_eq!(sim.media_stats().downloads, 1);

    let resp = admin.http.get(format!("{}{path}?auth=wrong", http.base)).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let resp = admin
        .http
        .get(format!("{}/v/t62.7118-24/nope.enc?auth={}", http.base, sim.media_auth()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    // Uploads: the auth token and the body's hash are checked.
    let upload =
        |auth: String| admin.http.post(format!("{}/mms/image/AAAA?auth={auth}&token=AAAA", http.base));
    assert_eq!(upload("wrong".into()).body("x").send().await.unwrap().status().as_u16(), 401);
    assert_eq!(upload(sim.media_auth()).body("x").send().await.unwrap().status().as_u16(), 400);
    assert_eq!(sim.media_stats().uploads, 0);
    bot.stop().await;
    http.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_uploads_an_image_and_a_voice_note_and_the_contact_gets_them() {
    let sim = Sim::new();
    let http = Http::start(&sim).await;
    let admin = Admin::new(&http);
    let dir = tempfile::tempdir().unwrap();
    let bot = paired(&sim, dir.path(), "+15550040004").await;
    let to: Jid = "15557770043@s.whatsapp.net".parse().unwrap();

    let image = file(33_333, 5);
    let up = tokio::time::timeout(
        STEP,
        bot.client.upload(image.clone(), MediaType::Image, UploadOptions::default()),
    )
    .await
    .unwrap()
    .expect("image upload");
    let msg = wa::Message {
        image_message: buffa::MessageField::some(wa::message::ImageMessage {
            url: Some(up.url.clone()),
            direct_path: Some(up.direct_path.clone()),
            media_key: Some(up.media_key.to_vec()),
            file_sha256: Some(up.file_sha256.to_vec()),
            file_enc_sha256: Some(up.file_enc_sha256.to_vec()),
            file_length: Some(up.file_length),
            mimetype: Some("image/jpeg".into()),
            caption: Some("from the tenant".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let image_id = tokio::time::timeout(STEP, bot.client.send_message(to.clone(), msg))
        .await
        .unwrap()
        .unwrap()
        .message_id;

    let voice = file(8_000, 6);
    let up = tokio::time::timeout(
        STEP,
        bot.client.upload(voice.clone(), MediaType::Audio, UploadOptions::default()),
    )
    .await
    .unwrap()
    .expect("voice upload");
    let msg = wa::Message {
        audio_message: buffa::MessageField::some(wa::message::AudioMessage {
            url: Some(up.url),
            direct_path: Some(up.direct_path),
            media_key: Some(up.media_key.to_vec()),
            file_sha256: Some(up.file_sha256.to_vec()),
            file_enc_sha256: Some(up.file_enc_sha256.to_vec()),
            file_length: Some(up.file_length),
            mimetype: Some("audio/ogg; codecs=opus".into()),
            ptt: Some(true),
            seconds: Some(4),
            streaming_sidecar: up.streaming_sidecar,
            ..Default::default()
        }),
        ..Default::default()
    };
    let voice_id =
        tokio::time::timeout(STEP, bot.client.send_message(to, msg)).await.unwrap().unwrap().message_id;
    sim.wait_for(STEP, |c| c.received >= 2).await.unwrap();

    let got = sim.received(Some("+15557770043"));
    let img = got.iter().find(|r| r.id == image_id).expect("the image is recorded");
    let m = img.media.as_ref().expect("with its media");
    assert_eq!(m.error, None);
    assert_eq!((m.kind, m.caption.as_deref()), (Some(MediaKind::Image), Some("from the tenant")));
    assert_eq!(m.data, image);
    assert_eq!(m.sha256.as_deref(), Some(sha(&image).as_str()));

    // The same over the admin API, base64 and all.
    let list = admin.get("/admin/received?contact=%2B15557770043").await;
    let v = list.as_array().unwrap().iter().find(|r| r["id"] == voice_id.as_str()).expect("the voice note");
    let media = &v["media"];
    assert_eq!(media["kind"], "voice");
    assert_eq!(media["ptt"], true);
    assert_eq!(media["seconds"], 4);
    assert_eq!(media["bytes"], voice.len());
    assert_eq!(media["sha256"], sha(&voice));
    let data = base64::engine::general_purpose::STANDARD.decode(media["data"].as_str().unwrap()).unwrap();
    assert_eq!(data, voice);
    assert_eq!(sim.media_stats().uploads, 2);
    bot.stop().await;
    http.stop().await;
}

fn receipt_of(e: &Event, id: &str, ty: ReceiptType) -> Option<String> {
    match e {
        Event::Receipt(r) if r.r#type == ty && r.message_ids.iter().any(|m| m == id) => {
            Some(r.source.chat.user.to_string())
        }
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_read_and_played_receipts_reach_the_client() {
    let sim = Sim::new();
    let http = Http::start(&sim).await;
    let admin = Admin::new(&http);
    let dir = tempfile::tempdir().unwrap();
    let mut bot = paired(&sim, dir.path(), "+15550040005").await;
    let to: Jid = "15557770044@s.whatsapp.net".parse().unwrap();
    let text = wa::Message { conversation: Some("did you get it?".into()), ..Default::default() };
    let id = tokio::time::timeout(STEP, bot.client.send_message(to.clone(), text))
        .await
        .unwrap()
        .unwrap()
        .message_id;
    let id2 = tokio::time::timeout(
        STEP,
        bot.client
            .send_message(to, wa::Message { conversation: Some("and this".into()), ..Default::default() }),
    )
    .await
    .unwrap()
    .unwrap()
    .message_id;
    let from = bot.wait("a delivery receipt", |e| receipt_of(e, &id, ReceiptType::Delivered)).await;
    assert_eq!(from, "15557770044");

    let (status, body) = admin
        .post(
            "/admin/receipt",
            json!({"from": "+15557770044", "to": "+15550040005", "ids": [id, id2], "type": "read"}),
        )
        .await;
    assert_eq!((status, body["connections"].as_u64()), (200, Some(1)), "{body}");
    bot.wait("a read receipt", |e| receipt_of(e, &id, ReceiptType::Read)).await;
    bot.wait("a read receipt for the second id", |e| receipt_of(e, &id2, ReceiptType::Read)).await;

    let n = sim.send_receipt(
        "+15557770044",
        "+15550040005",
        std::slice::from_ref(&id),
        wasim::ReceiptKind::Played,
    );
    assert_eq!(n, 1);
    bot.wait("a played receipt", |e| receipt_of(e, &id, ReceiptType::Played)).await;

    let (status, _) = admin
        .post("/admin/receipt", json!({"from": "+1", "to": "+15550040005", "ids": [id], "type": "seen"}))
        .await;
    assert_eq!(status, 400);
    let (status, _) = admin
        .post("/admin/receipt", json!({"from": "+1", "to": "+15559999999", "ids": ["X"], "type": "read"}))
        .await;
    assert_eq!(status, 409, "no live connection for that phone");
    bot.stop().await;
    http.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mark_as_read_and_chat_states_are_recorded() {
    let sim = Sim::new();
    let http = Http::start(&sim).await;
    let admin = Admin::new(&http);
    let dir = tempfile::tempdir().unwrap();
    let mut bot = paired(&sim, dir.path(), "+15550040006").await;
    sim.wait_for(STEP, |c| c.prekey_uploads >= 1).await.unwrap();
    let id = sim.send_text("+15557770045", "+15550040006", "read me").await.unwrap();
    wait_message(&mut bot, &id).await;
    let chat: Jid = "15557770045@s.whatsapp.net".parse().unwrap();
    tokio::time::timeout(STEP, bot.client.mark_as_read(&chat, None, &[id.as_str()])).await.unwrap().unwrap();
    for state in [ChatStateType::Composing, ChatStateType::Recording, ChatStateType::Paused] {
        tokio::time::timeout(STEP, bot.client.chatstate().send(&chat, state)).await.unwrap().unwrap();
    }
    sim.wait_for(STEP, |c| c.reads >= 1 && c.chat_states >= 3).await.unwrap();

    let reads = admin.get("/admin/reads?phone=%2B15550040006").await;
    assert_eq!(reads.as_array().unwrap().len(), 1, "{reads}");
    assert_eq!(reads[0]["from"], "+15550040006");
    assert_eq!(reads[0]["chat"], "+15557770045");
    assert_eq!(reads[0]["ids"], json!([id]));
    assert_eq!(reads[0]["type"], "read");
    assert!(reads[0]["at"].as_u64().is_some());

    let states = admin.get("/admin/presence?phone=%2B15550040006").await;
    let got: Vec<(&str, &str)> = states
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["to"].as_str().unwrap(), s["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        vec![("+15557770045", "composing"), ("+15557770045", "recording"), ("+15557770045", "paused")]
    );
    assert!(admin.get("/admin/presence?phone=%2B15550000000").await.as_array().unwrap().is_empty());
    assert_eq!(admin.get("/admin/reads").await.as_array().unwrap().len(), 1);
    // The connection is still healthy: a message still arrives.
    let id = sim.send_text("+15557770045", "+15550040006", "still there?").await.unwrap();
    wait_message(&mut bot, &id).await;
    bot.stop().await;
    http.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_latency_the_client_still_pairs_and_receives() {
    let sim = Sim::new().with_latency(Duration::from_millis(40));
    let dir = tempfile::tempdir().unwrap();
    let mut bot = paired(&sim, dir.path(), "+15550040007").await;
    sim.wait_for(STEP, |c| c.prekey_uploads >= 1).await.unwrap();
    let id = sim.send_text("+15557770046", "+15550040007", "slowly").await.unwrap();
    let msg = wait_message(&mut bot, &id).await;
    assert_eq!(msg.conversation.as_deref(), Some("slowly"));
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_sync_after_pairing_is_processed_and_nothing_breaks() {
    let sim = Sim::new();
    let dir = tempfile::tempdir().unwrap();
    let mut bot = TestBot::start_with_history(&sim, &dir.path().join("wa.db")).await;
    let qr = bot.qr().await;
    sim.scan(&qr, Some("+15550040008")).unwrap();
    bot.connected().await;
    // The client receipts the notification (`hist_sync`) once it processed it.
    sim.wait_for(STEP, |c| c.history_syncs_received >= 1 && c.key_shares_received >= 1).await.unwrap();
    let sync_type = bot
        .wait("HistorySync", |e| match e {
            Event::HistorySync(h) => Some(format!("{h:?}")),
            _ => None,
        })
        .await;
    assert!(!sync_type.is_empty());
    let id = sim.send_text("+15557770047", "+15550040008", "after history").await.unwrap();
    wait_message(&mut bot, &id).await;
    bot.stop().await;
    // A restart is no fresh pairing: no second notification.
    let mut bot = TestBot::start_with_history(&sim, &dir.path().join("wa.db")).await;
    bot.connected().await;
    let id = sim.send_text("+15557770047", "+15550040008", "again").await.unwrap();
    wait_message(&mut bot, &id).await;
    assert_eq!(sim.counters().history_syncs_received, 1);
    bot.stop().await;
}

/// The built binary: `wasim serve --listen 127.0.0.1:0 --latency-ms 30`, the
/// client over whatsapp-rust's own WebSocket transport, media over its HTTP port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_with_latency_pairs_delivers_and_hosts_media() {
    use tokio::io::AsyncBufReadExt as _;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_wasim"))
        .args(["serve", "--listen", "127.0.0.1:0", "--latency-ms", "30"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("wasim binary starts");
    let stdout = child.stdout.take().unwrap();
    let line = tokio::time::timeout(STEP, tokio::io::BufReader::new(stdout).lines().next_line())
        .await
        .expect("the address line in time")
        .unwrap()
        .expect("a line");
    // "wasim listening on 127.0.0.1:PORT (...)"
    let addr = line.split_whitespace().nth(3).expect("an address").to_string();
    let admin = Admin {
        http: reqwest::Client::builder().timeout(STEP).build().unwrap(),
        base: format!("http://{addr}"),
    };

    let dir = tempfile::tempdir().unwrap();
    let factory = whatsapp_rust::transport::TokioWebSocketTransportFactory::new()
        .with_url(format!("ws://{addr}/ws/chat"));
    let mut bot = TestBot::start_with(factory, &dir.path().join("wa.db"), None).await;
    let qr = bot.qr().await;
    let (status, _) = admin.post("/admin/scan", json!({"qr": qr, "phone": "+15550040009"})).await;
    assert_eq!(status, 200);
    bot.connected().await;

    let data = file(20_000, 7);
    // Prekeys may still be on their way right after Connected: retry the send briefly.
    let mut sent = None;
    for _ in 0..50 {
        let (status, body) = admin
            .post(
                "/admin/send",
                json!({"from": "+15557770048", "to": "+15550040009", "media": {"kind": "sticker",
                       "data": base64::engine::general_purpose::STANDARD.encode(&data)}}),
            )
            .await;
        if status == 200 {
            sent = Some(body["id"].as_str().unwrap().to_string());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let id = sent.expect("the send is accepted once the device uploaded prekeys");
    let msg = wait_message(&mut bot, &id).await;
    let sticker = msg.sticker_message.as_option().expect("a StickerMessage");
    assert_eq!(sticker.mimetype.as_deref(), Some("image/webp"));
    assert!(sticker.url.as_deref().unwrap().starts_with(&format!("https://{addr}/v/")), "{:?}", sticker.url);
    assert_eq!(download(&bot, sticker).await.unwrap(), data);
    assert_eq!(admin.get("/admin/media-stats").await["downloads"], 1);
    bot.stop().await;
    let _ = child.kill().await;
}
