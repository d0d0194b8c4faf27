// The second factor page's script (served at /static/totp.js, the only script the demo's
// pages run; the page's Content-Security-Policy allows this site's scripts and fetch() to
// this site only).
//
// The layer answers POST /profile/totp and POST /profile/totp/confirm with JSON even for a
// browser: a secret and recovery codes are data, which must never travel in a redirect's URL.
// So this script posts the page's two forms itself, with fetch() (same origin: the session
// cookie goes along, and the Origin header passes the layer's cross-site check), and shows
// the answers as text (textContent, never HTML).
"use strict";

(function () {
  var setup = document.getElementById("totp-setup-form");
  var confirm = document.getElementById("totp-confirm-form");
  var error = document.getElementById("totp-error");
  if (!setup || !confirm || !error) {
    return;
  }

  function showError(message) {
    error.textContent = message;
    error.hidden = false;
  }

  // POSTs the form's fields (urlencoded) to its action; the parsed JSON answer, or an error
  // carrying the layer's message.
  function post(form) {
    var body = new URLSearchParams(new FormData(form));
    return fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      body: body,
    }).then(function (res) {
      return res
        .json()
        .catch(function () {
          return {};
        })
        .then(function (json) {
          if (!res.ok) {
            throw new Error(json.message || "the request failed (" + res.status + ")");
          }
          return json;
        });
    });
  }

  function busy(form, on) {
    var buttons = form.querySelectorAll("button");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].disabled = on;
    }
  }

  setup.addEventListener("submit", function (event) {
    event.preventDefault();
    error.hidden = true;
    busy(setup, true);
    post(setup)
      .then(function (json) {
        document.getElementById("totp-secret").textContent = json.secret;
        document.getElementById("totp-uri-text").textContent = json.otpauth_uri;
        document.getElementById("totp-uri").href = json.otpauth_uri;
        setup.reset();
        setup.hidden = true;
        document.getElementById("totp-pending").hidden = false;
        document.getElementById("code").focus();
      })
      .catch(function (e) {
        showError(e.message);
      })
      .then(function () {
        busy(setup, false);
      });
  });

  confirm.addEventListener("submit", function (event) {
    event.preventDefault();
    error.hidden = true;
    busy(confirm, true);
    post(confirm)
      .then(function (json) {
        var list = document.getElementById("recovery-codes");
        list.textContent = "";
        (json.recovery_codes || []).forEach(function (code) {
          var item = document.createElement("li");
          item.className = "recovery-code";
          item.textContent = code;
          list.appendChild(item);
        });
        document.getElementById("totp-secret").textContent = "";
        document.getElementById("totp-pending").hidden = true;
        document.getElementById("totp-status").dataset.state = "on";
        document.getElementById("totp-status").textContent =
          "Your second factor is on: logging in asks for a one-time code.";
        document.getElementById("totp-enabled").hidden = false;
      })
      .catch(function (e) {
        showError(e.message);
        confirm.reset();
      })
      .then(function () {
        busy(confirm, false);
      });
  });
})();
