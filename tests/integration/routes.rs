//! Routing, limits and auth of the HTTP router, in this process (no daemon,
//! no socket): what the end-to-end modules show through the built binary,
//! shown here per request in milliseconds.

use agentlocator::tenants::TenantSettings;
use axum::body::Body;
use axum::http::Request;

use crate::harness::in_process::{App, SECRET};
use crate::harness::twilio_signature;

#[tokio::test]
async fn unknown_routes_and_methods_answer_404_and_405_in_json() {
    let app = App::new(&[]).await;
    let missing = app.get("/no/such/route", None).await;
    assert_eq!((missing.status, missing.error_code().as_str()), (404, "not_found"), "{}", missing.body);
    assert_eq!(app.call("POST", "/healthz", None).await.status, 405);
    assert_eq!(app.call("FOO1", "/healthz", None).await.status, 405);
    let ok = app.get("/healthz", None).await;
    assert_eq!((ok.status, ok.body.as_str()), (200, "ok"));
    assert!(ok.headers.contains_key("x-request-id"), "request ids are set");
}

#[tokio::test]
async fn a_tenant_token_reaches_its_own_tenant_only_and_the_internal_secret_every_tenant() {
    let app = App::new(&[]).await;
    let alpha = app.add_tenant("alpha", TenantSettings::default()).await;
    app.add_tenant("bravo", TenantSettings::default()).await;
    let status = |tenant: &str| format!("/api/whatsapp/{tenant}/status");

    let own = app.get(&status("alpha"), Some(&alpha.token)).await;
    assert_eq!(own.status, 200, "{}", own.body);
    let other = app.get(&status("bravo"), Some(&alpha.token)).await;
    let ghost = app.get(&status("ghost"), Some(&alpha.token)).await;
    assert_eq!((other.status, ghost.status), (404, 404), "another tenant, existing or not");
    assert_eq!(other.error_code(), ghost.error_code(), "the same 404, no hint");
    assert_eq!(app.get(&status("bravo"), Some(SECRET)).await.status, 200, "the internal secret reaches all");
    for refused in [None, Some("alt_not-a-token"), Some(alpha.signing_secret.as_str())] {
        let answer = app.get(&status("alpha"), refused).await;
        assert_eq!((answer.status, answer.error_code().as_str()), (401, "unauthorized"), "{refused:?}");
    }
    let detail = app.get("/healthz/whatsapp?verbose", Some(&alpha.token)).await;
    assert_eq!(detail.status, 401, "a tenant token does not open the operator's detail");
    assert_eq!(app.get("/healthz/whatsapp?verbose", Some(SECRET)).await.status, 200);
}

#[tokio::test]
async fn malformed_tenant_ids_in_urls_are_refused_before_any_lookup() {
    let app = App::new(&[]).await;
    let token = app.add_tenant("alpha", TenantSettings::default()).await.token;
    for bad in ["UPPER", "%2e%2e", "..", "a%2fb", "%C3%A9", "%00"] {
        let path = format!("/api/whatsapp/{bad}/status");
        let answer = app.get(&path, Some(&token)).await;
        assert_eq!((answer.status, answer.error_code().as_str()), (400, "invalid_tenant_id"), "{path}");
    }
}

#[tokio::test]
async fn webhooks_without_a_valid_twilio_signature_are_refused_with_403() {
    let token = "in-process-twilio-token-0123456789";
    let app = App::new(&[("TWILIO_AUTH_TOKEN", token)]).await;
    let settings = TenantSettings { twilio_numbers: Some(vec!["+15550001111".into()]), ..Default::default() };
    app.add_tenant("acme", settings).await;
    let params = [("CallSid", "CA00000000000000000000000000000001"), ("To", "+15550001111")];
    let body = crate::harness::form_body(&params);
    let post = |signature: Option<String>| {
        let mut request = Request::post("/webhook/voice")
            .header("host", "agentlocator.test")
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(signature) = signature {
            request = request.header("x-twilio-signature", signature);
        }
        request.body(Body::from(body.clone())).expect("request")
    };
    assert_eq!(app.send(post(None)).await.status, 403, "unsigned");
    let wrong = twilio_signature("another-token", "http://agentlocator.test/webhook/voice", &params);
    assert_eq!(app.send(post(Some(wrong))).await.status, 403, "signed with another token");
    let right = twilio_signature(token, "http://agentlocator.test/webhook/voice", &params);
    let answer = app.send(post(Some(right))).await;
    assert_eq!(answer.status, 200, "the same request signed for its URL: {}", answer.body);
}

#[tokio::test]
async fn readiness_names_the_checks_it_can_exclude() {
    let app = App::new(&[]).await;
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    let bad = app.get("/readyz?exclude=nonsense", None).await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("database, supervisor"), "{}", bad.body);
}
