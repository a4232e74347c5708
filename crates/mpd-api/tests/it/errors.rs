//! Authentication and error mapping against the mock.

use mpd_api::{Client, ErrorClass, ExportRequest};

use crate::{client, day, options, small_config, start};

#[tokio::test]
async fn wrong_secret_is_an_auth_error_naming_the_endpoint() {
    let server = start(small_config()).await;
    let client = Client::new(options(&server, "wrong-secret-value")).expect("client builds");
    let error =
        client.export(&ExportRequest::days(day(), day())).await.expect_err("credentials refused");
    assert_eq!(error.class(), ErrorClass::Auth, "{error}");
    assert!(!error.is_retryable());
    let text = error.to_string();
    assert!(text.contains("GET /api/2.0/export?"), "{text}");
    assert!(!text.contains("wrong-secret-value"), "{text}");
    assert!(!format!("{error:?}").contains("wrong-secret-value"));

    let error = client.check_auth().await.expect_err("credentials refused");
    assert_eq!(error.class(), ErrorClass::Auth, "{error}");
    assert!(error.to_string().contains("/api/query/events/names"), "{error}");
}

#[tokio::test]
async fn check_auth_succeeds_with_good_credentials() {
    let server = start(small_config()).await;
    let names = client(&server).check_auth().await.expect("credentials work");
    assert!(names <= 1, "limit=1 was sent");
}
