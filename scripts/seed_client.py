#!/usr/bin/env python3
"""The seed's end-to-end client (Python requests), run unchanged against the demo.

usage: seed_client.py [BASE_URL]   (default http://localhost:5000)
"""
import sys
import uuid

import requests

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://localhost:5000"
EMAIL = f"guillaume-{uuid.uuid4().hex[:8]}@holberton.io"
PASSWD = "b4l0u"
NEW_PASSWD = "t4rt1"


def register_user(email: str, password: str) -> None:
    r = requests.post(f"{BASE}/users", data={"email": email, "password": password})
    assert r.status_code == 200, r.status_code
    assert r.json() == {"email": email, "message": "user created"}, r.json()
    r = requests.post(f"{BASE}/users", data={"email": email, "password": password})
    assert r.status_code == 400, r.status_code
    assert r.json() == {"message": "email already registered"}, r.json()


def log_in_wrong_password(email: str, password: str) -> None:
    r = requests.post(f"{BASE}/sessions", data={"email": email, "password": password})
    assert r.status_code == 401, r.status_code


def profile_unlogged() -> None:
    r = requests.get(f"{BASE}/profile")
    assert r.status_code == 403, r.status_code


def log_in(email: str, password: str) -> str:
    r = requests.post(f"{BASE}/sessions", data={"email": email, "password": password})
    assert r.status_code == 200, r.status_code
    assert r.json() == {"email": email, "message": "logged in"}, r.json()
    session_id = r.cookies.get("session_id")
    assert session_id, "no session_id cookie"
    return session_id


def profile_logged(session_id: str) -> None:
    r = requests.get(f"{BASE}/profile", cookies={"session_id": session_id})
    assert r.status_code == 200, r.status_code
    assert r.json() == {"email": EMAIL}, r.json()


def log_out(session_id: str) -> None:
    r = requests.delete(f"{BASE}/sessions", cookies={"session_id": session_id})
    assert r.status_code == 200, r.status_code
    assert r.json() == {"message": "Bienvenue"}, r.json()


def reset_password_token(email: str) -> str:
    r = requests.post(f"{BASE}/reset_password", data={"email": email})
    assert r.status_code == 200, r.status_code
    body = r.json()
    assert body["email"] == email, body
    assert body["reset_token"], body
    return body["reset_token"]


def update_password(email: str, reset_token: str, new_password: str) -> None:
    data = {"email": email, "reset_token": reset_token, "new_password": new_password}
    r = requests.put(f"{BASE}/reset_password", data=data)
    assert r.status_code == 200, r.status_code
    assert r.json() == {"email": email, "message": "Password updated"}, r.json()


if __name__ == "__main__":
    register_user(EMAIL, PASSWD)
    log_in_wrong_password(EMAIL, NEW_PASSWD)
    profile_unlogged()
    session_id = log_in(EMAIL, PASSWD)
    profile_logged(session_id)
    log_out(session_id)
    reset_token = reset_password_token(EMAIL)
    update_password(EMAIL, reset_token, NEW_PASSWD)
    log_in(EMAIL, NEW_PASSWD)
    print("OK")
