//! `POST /api/pin`: a user with a short PIN replaces it at sign-in; the old PIN
//! proves who asks, the new one follows the rule for new PINs, and the next
//! sync gives every tablet of the site the new hash.

use trial::pin::ITERATIONS;

use super::*;

on_both_engines!(a_short_pin_is_replaced_from_the_tablet);

async fn a_short_pin_is_replaced_from_the_tablet(app: TestApp) {
    let tablet = app.enrol().await;
    let change = |old: &str, new: &str, user_id: Uuid| {
        app.send_json(
            Method::POST,
            "/api/pin",
            Some(&tablet.token),
            to_json(&PinChangeRequest {
                user_id,
                old_pin: old.to_owned(),
                new_pin: new.to_owned(),
            }),
        )
    };
    let refused_on = |body: &[u8]| from_json::<ApiErrorBody>(body).problems[0].field.clone();
    let (status, body) = change("1357", "246813", tablet.user_id).await;
    assert_eq!(
        (status, refused_on(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "old_pin".to_owned())
    );
    let (status, body) = change(PIN, "24681", tablet.user_id).await;
    assert_eq!(
        (status, refused_on(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "new_pin".to_owned())
    );
    let (status, body) = change(PIN, "246813", Uuid::now_v7()).await;
    assert_eq!(
        (status, refused_on(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "user_id".to_owned())
    );

    let (status, body) = change(PIN, "246813", tablet.user_id).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let answer: PinChangeResponse = from_json(&body);
    let new = Pin::parse("246813").unwrap();
    assert!(answer.pin.verify(&new));
    assert_eq!(answer.pin.iterations(), ITERATIONS);
    // Every tablet of the site gets it at its next sync; the old PIN is gone.
    let (status, body) = app.get("/api/users", Some(&tablet.token)).await;
    assert_eq!(status, StatusCode::OK);
    let users: UsersResponse = from_json(&body);
    let user = users
        .users
        .iter()
        .find(|user| user.id == tablet.user_id)
        .unwrap();
    assert_eq!(user.pin, answer.pin);
    assert!(!user.pin.verify(&Pin::parse(PIN).unwrap()));
}
