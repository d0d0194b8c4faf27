//! Forms reach `PUT` and `DELETE` with a `_method` field, only in form bodies; a password
//! change's failures go back to its form; a cross-site form is refused even with `_method`.

use super::*;

#[tokio::test]
async fn forms_reach_put_and_delete_with_method_and_only_in_form_bodies() {
    let h = Harness::seed();
    h.registered("ann@example.com", GOOD_PW).await;

    // Log out: `POST /sessions` with `_method=DELETE`, urlencoded or multipart, any case.
    for body in [
        Body::Form(&[("_method", "DELETE")]),
        Body::Multipart(&[("_method", "delete")]),
    ] {
        let cookie = h.session("ann@example.com", GOOD_PW).await;
        let req = with_cookie(request(Method::POST, "/sessions", &[], body), &cookie);
        let res = h.send(req).await;
        assert_eq!(res.status, StatusCode::FOUND, "the logout's JSON answer");
        assert_eq!(res.json(), json!({ "message": "logged out" }));
        assert_eq!(h.profile(&cookie).await.status, 403);
    }

    // A JSON body's `_method` is a field like any other: the POST stays a POST.
    let cookie = h.session("ann@example.com", GOOD_PW).await;
    let json_body = Body::Json(
        json!({ "_method": "PUT", "current_password": GOOD_PW, "new_password": OTHER_PW }),
    );
    let res = h
        .send(with_cookie(
            request(Method::POST, "/profile/password", &[], json_body),
            &cookie,
        ))
        .await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.header("allow"), Some("PUT"));
    // A plain POST keeps its 405; so does a `_method` the path does not serve, or none known.
    for (path, fields, allow) in [
        ("/sessions/all", vec![], "DELETE"),
        ("/sessions/all", vec![("_method", "PUT")], "DELETE"),
        ("/profile/password", vec![("_method", "DELETE")], "PUT"),
        ("/profile/password", vec![("_method", "PATCH")], "PUT"),
        (
            "/sessions",
            vec![("_method", "GET")],
            "GET, HEAD, POST, DELETE",
        ),
        ("/reset_password", vec![("_method", "TRACE")], "POST, PUT"),
    ] {
        let res = h
            .send(with_cookie(form(Method::POST, path, &fields), &cookie))
            .await;
        assert_eq!(
            res.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{path} {fields:?}"
        );
        assert_eq!(res.header("allow"), Some(allow), "{path} {fields:?}");
        assert_eq!(res.json(), json!({ "message": "method not allowed" }));
    }
    // `_method=POST`, as form helpers that always send the field do: no override.
    let as_post = [
        ("_method", "post"),
        ("email", "ann@example.com"),
        ("password", GOOD_PW),
    ];
    let res = h.send(form(Method::POST, "/sessions", &as_post)).await;
    assert_eq!(res.status, 200, "{}", res.text());
    // `_method` given twice: 400, like any duplicated field.
    let twice = [("_method", "DELETE"), ("_method", "DELETE")];
    let res = h
        .send(with_cookie(
            form(Method::POST, "/sessions", &twice),
            &cookie,
        ))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    // Never on a GET's query, nor on a route that serves only POST.
    let res = h
        .send(with_cookie(get("/profile?_method=DELETE"), &cookie))
        .await;
    assert_eq!(res.status, 200);
    let res = h
        .send(form(Method::POST, "/users", &[("_method", "DELETE")]))
        .await;
    assert_eq!(
        res.status,
        StatusCode::BAD_REQUEST,
        "register, missing its fields"
    );
    assert_eq!(
        h.profile(&cookie).await.status,
        200,
        "the session is untouched"
    );

    // Change the password, then end every session, through forms.
    let change = [
        ("_method", "PUT"),
        ("current_password", GOOD_PW),
        ("new_password", OTHER_PW),
    ];
    let res = browse(
        &h,
        with_cookie(form(Method::POST, "/profile/password", &change), &cookie),
    )
    .await;
    assert_eq!(location(&res), "/account/password?notice=password_changed");
    let res = browse(
        &h,
        with_cookie(
            form(Method::POST, "/sessions/all", &[("_method", "DELETE")]),
            &cookie,
        ),
    )
    .await;
    assert_eq!(location(&res), "/");
    assert!(support::clears(
        &res.set_cookie_line("session_id").expect("cleared")
    ));
    assert_eq!(h.profile(&cookie).await.status, 403);
}

#[tokio::test]
async fn password_change_failures_go_back_to_its_form() {
    let h = Harness::new(unthrottled(hardened_config()));
    h.registered("ann@example.com", GOOD_PW).await;
    let cookie = h.session("ann@example.com", GOOD_PW).await;
    for (fields, expected) in [
        (
            vec![
                ("_method", "PUT"),
                ("current_password", "wrong"),
                ("new_password", OTHER_PW),
            ],
            "/account/password?error=wrong_password",
        ),
        (
            vec![
                ("_method", "PUT"),
                ("current_password", GOOD_PW),
                ("new_password", "short"),
            ],
            "/account/password?error=weak_password",
        ),
        (
            vec![("_method", "PUT"), ("current_password", GOOD_PW)],
            "/account/password?error=missing_field",
        ),
    ] {
        let req = with_cookie(form(Method::POST, "/profile/password", &fields), &cookie);
        let res = browse(&h, req).await;
        assert_eq!(location(&res), expected, "{fields:?}");
    }
    assert_eq!(h.profile(&cookie).await.status, 200);
}

/// A cross-site form is refused before anything, as JSON, and changes nothing.
#[tokio::test]
async fn a_cross_site_form_is_refused_even_with_method() {
    let h = Harness::seed();
    h.registered("ann@example.com", GOOD_PW).await;
    let cookie = h.session("ann@example.com", GOOD_PW).await;
    let req = with_cookie(
        form(Method::POST, "/sessions/all", &[("_method", "DELETE")]),
        &cookie,
    );
    let req = with_header(as_browser(req), "origin", "https://evil.example");
    let res = h.send(req).await;
    assert_eq!(res.status, 403);
    assert_eq!(
        res.json(),
        json!({ "message": "cross-site request refused" })
    );
    assert_eq!(h.profile(&cookie).await.status, 200);
}
