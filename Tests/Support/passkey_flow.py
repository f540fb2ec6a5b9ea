"""Passkeys and impersonation as StellarStack's web client uses them, made with
better-auth-client (PyPI) against Gatehouse, with software authenticators: soft-webauthn
(PyPI: ES256, attestation none, as a browser's platform authenticator answers) and
`Authenticator` below (ES256, EdDSA and RS256; attestation none or packed self attestation),
built on `cryptography`.

    passkey_flow.py --base http://127.0.0.1:PORT --maildir DIR --origin http://localhost:3000
                    --root-email E --root-password P

Each step prints "ok <step>"; the first mismatch raises (exit status 1).
"""

import base64
import hashlib
import json
import os
import struct
import time
import urllib.parse

from better_auth_client import APIError, AuthClient
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from soft_webauthn import SoftWebauthnDevice

from better_auth_flow import CLIENT_TIMEOUT, MAIL_TIMEOUT, check, flow_arguments, mails, refused, totp

PASSWORD = "Str0ng!pass-phrase"


def b64u(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64u(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def cbor(value):
    """Enough CBOR for WebAuthn: integers, byte and text strings, arrays, maps."""

    def head(major, n):
        if n < 24:
            return bytes([major << 5 | n])
        for info, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
            if n < 1 << (8 * struct.calcsize(fmt)):
                return bytes([major << 5 | info]) + struct.pack(fmt, n)

    if isinstance(value, int):
        return head(0, value) if value >= 0 else head(1, -1 - value)
    if isinstance(value, bytes):
        return head(2, len(value)) + value
    if isinstance(value, str):
        return head(3, len(value.encode())) + value.encode()
    if isinstance(value, list):
        return head(4, len(value)) + b"".join(map(cbor, value))
    if isinstance(value, dict):
        return head(5, len(value)) + b"".join(cbor(k) + cbor(v) for k, v in value.items())
    raise TypeError(type(value))


class Authenticator:
    """A software authenticator holding one credential of `alg` (-7 ES256, -8 EdDSA, -257
    RS256) that attests with `fmt` ("none" or "packed" self attestation)."""

    def __init__(self, alg=-7, fmt="none"):
        self.alg, self.fmt, self.counter, self.cred_id = alg, fmt, 0, os.urandom(16)
        if alg == -7:
            self.key = ec.generate_private_key(ec.SECP256R1())
            n = self.key.public_key().public_numbers()
            self.cose = {1: 2, 3: -7, -1: 1, -2: n.x.to_bytes(32, "big"), -3: n.y.to_bytes(32, "big")}
        elif alg == -8:
            self.key = ed25519.Ed25519PrivateKey.generate()
            raw = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
            self.cose = {1: 1, 3: -8, -1: 6, -2: raw}
        else:
            self.key = rsa.generate_private_key(65537, 2048)
            n = self.key.public_key().public_numbers()
            self.cose = {1: 3, 3: -257, -1: n.n.to_bytes(256, "big"), -2: n.e.to_bytes(3, "big")}

    def sign(self, message):
        if self.alg == -7:
            return self.key.sign(message, ec.ECDSA(hashes.SHA256()))
        if self.alg == -8:
            return self.key.sign(message)
        return self.key.sign(message, padding.PKCS1v15(), hashes.SHA256())

    def create(self, options, origin, forge=False):
        self.rp_id = options["rp"]["id"]
        client_data = json.dumps(
            {"type": "webauthn.create", "challenge": options["challenge"], "origin": origin, "crossOrigin": False}
        ).encode()
        auth_data = (
            hashlib.sha256(self.rp_id.encode()).digest() + bytes([0x45]) + struct.pack(">I", self.counter)
            + b"\0" * 16 + struct.pack(">H", len(self.cred_id)) + self.cred_id + cbor(self.cose)
        )
        statement = {}
        if self.fmt == "packed":
            signature = self.sign(auth_data + hashlib.sha256(client_data).digest())
            if forge:
                signature = signature[:-1] + bytes([signature[-1] ^ 1])
            statement = {"alg": self.alg, "sig": signature}
        attestation = cbor({"fmt": self.fmt, "attStmt": statement, "authData": auth_data})
        return {
            "id": b64u(self.cred_id), "rawId": b64u(self.cred_id), "type": "public-key",
            "response": {"clientDataJSON": b64u(client_data), "attestationObject": b64u(attestation),
                         "transports": ["usb"]},
            "authenticatorAttachment": "cross-platform",
        }

    def get(self, options, origin, count=None):
        self.counter = self.counter + 1 if count is None else count
        client_data = json.dumps({"type": "webauthn.get", "challenge": options["challenge"], "origin": origin}).encode()
        auth_data = hashlib.sha256(options["rpId"].encode()).digest() + bytes([0x05]) + struct.pack(">I", self.counter)
        return {
            "id": b64u(self.cred_id), "rawId": b64u(self.cred_id), "type": "public-key",
            "response": {"clientDataJSON": b64u(client_data), "authenticatorData": b64u(auth_data),
                         "signature": b64u(self.sign(auth_data + hashlib.sha256(client_data).digest()))},
        }


def mail_about(maildir, subject, timeout=MAIL_TIMEOUT):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for found in mails(maildir):
            if found[1].startswith(subject):
                return found
        time.sleep(0.1)
    raise AssertionError(f"no mail about {subject!r}: {[m[1] for m in mails(maildir)]}")


def soft_register(device, options, origin):
    """soft-webauthn answers WebAuthn's options with bytes; this is the JSON a browser sends."""
    public_key = dict(options, challenge=unb64u(options["challenge"]),
                      user=dict(options["user"], id=unb64u(options["user"]["id"])))
    created = device.create({"publicKey": public_key}, origin)
    return {
        "id": b64u(created["rawId"]), "rawId": b64u(created["rawId"]), "type": "public-key",
        "response": {"clientDataJSON": b64u(created["response"]["clientDataJSON"]),
                     "attestationObject": b64u(created["response"]["attestationObject"]),
                     "transports": ["internal", "hybrid"]},
        "authenticatorAttachment": "platform",
    }


def soft_authenticate(device, options, origin):
    got = device.get({"publicKey": dict(options, challenge=unb64u(options["challenge"]))}, origin)
    response = got["response"]
    return {
        "id": b64u(got["rawId"]), "rawId": b64u(got["rawId"]), "type": "public-key",
        "response": {name: b64u(response[name])
                     for name in ("clientDataJSON", "authenticatorData", "signature", "userHandle")},
    }


def main():
    args = flow_arguments()
    origin = args.origin

    def browser():
        return AuthClient(args.base, headers={"origin": origin}, timeout=CLIENT_TIMEOUT)

    # --- Registration with a platform authenticator (soft-webauthn) ---------------------------
    ada = browser()
    ada_user = ada.sign_up.email(name="Ada Lovelace", email="ada@example.test", password=PASSWORD)["user"]
    refused("register options need a session", lambda: browser().passkey.generate_register_options(), 401,
            "UNAUTHORIZED")
    options = ada.passkey.generate_register_options()
    check(options["rp"] == {"name": "Gatehouse", "id": "localhost"}, "options name the panel", options["rp"])
    check([p["alg"] for p in options["pubKeyCredParams"]] == [-8, -7, -257], "EdDSA, ES256, RS256 offered")
    check(len(unb64u(options["challenge"])) == 32 and options["attestation"] == "none", "a fresh challenge")
    check(options["user"]["name"] == "ada@example.test" and options["excludeCredentials"] == [], "for ada")
    device = SoftWebauthnDevice()
    registration = soft_register(device, options, origin)
    added = ada.passkey.verify_registration(response=registration, name="Laptop")
    check(added["name"] == "Laptop" and added["userId"] == ada_user["id"] and added["counter"] == 0
          and added["credentialID"] == registration["id"] and added["transports"] == "hybrid,internal"
          and added["deviceType"] == "singleDevice" and added["backedUp"] is False
          and added["aaguid"] == "00000000-0000-0000-0000-000000000000", "verify-registration", added)
    _, subject, text = mail_about(args.maildir, "A passkey was added")
    check('"Laptop"' in text and "ada@example.test" in _, "the owner is told", text)
    listed = ada.passkey.list_user_passkeys()
    check([p["id"] for p in listed] == [added["id"]], "list-user-passkeys")
    check(base64.b64decode(listed[0]["publicKey"])[:1] == b"\xa5", "the COSE key, in base64")
    refused("a registration answered twice", lambda: ada.passkey.verify_registration(response=registration), 400,
            "CHALLENGE_NOT_FOUND")
    again = ada.passkey.generate_register_options()
    check(again["excludeCredentials"][0]["id"] == registration["id"], "the authenticator is told what it holds")
    refused("an old registration for a new challenge",
            lambda: ada.passkey.verify_registration(response=registration), 400, "FAILED_TO_VERIFY_REGISTRATION")
    ada.passkey.generate_register_options()
    refused("a registration from another site",
            lambda: ada.passkey.verify_registration(
                response=soft_register(SoftWebauthnDevice(), ada.passkey.generate_register_options(),
                                       "https://evil.example")),
            400, "FAILED_TO_VERIFY_REGISTRATION")
    bob = browser()
    bob.sign_up.email(name="Bob", email="bob@example.test", password=PASSWORD)
    bob.passkey.generate_register_options()
    stolen = browser()
    stolen.sign_in.email(email="ada@example.test", password=PASSWORD)
    # Bob's challenge cookie, Ada's session: the challenge was not handed out to her.
    bob_cookie = bob._http.cookies.get("better-auth.better-auth-passkey")
    stolen._http.cookies.set("better-auth.better-auth-passkey", bob_cookie)
    refused("another account's challenge",
            lambda: stolen.passkey.verify_registration(response=registration), 401,
            "YOU_ARE_NOT_ALLOWED_TO_REGISTER_THIS_PASSKEY")

    # --- Sign-in with it ------------------------------------------------------------------------
    check(ada.sign_out() == {"success": True}, "sign-out")
    visitor = browser()
    request = visitor.passkey.generate_authenticate_options()
    check(request["rpId"] == "localhost" and "allowCredentials" not in request, "anonymous options")
    assertion = soft_authenticate(device, request, origin)
    signed_in = visitor.passkey.verify_authentication(response=assertion)
    check(signed_in["user"]["id"] == ada_user["id"] and signed_in["session"]["userId"] == ada_user["id"],
          "verify-authentication signs in", signed_in)
    check(visitor.get_session()["user"]["email"] == "ada@example.test", "a session by cookie")
    token_only = AuthClient(args.base, headers={"origin": origin}, timeout=CLIENT_TIMEOUT)
    token_only.set_bearer(signed_in["session"]["token"])
    token_only._http.cookies.clear()
    check(token_only.get_session()["user"]["id"] == ada_user["id"], "the session's token works as a bearer")
    mine = visitor.passkey.generate_authenticate_options()
    check([c["id"] for c in mine["allowCredentials"]] == [registration["id"]], "a signed-in caller's own passkeys")

    replayer = browser()
    refused("a replayed assertion", lambda: replayer.passkey.verify_authentication(response=assertion), 400,
            "CHALLENGE_NOT_FOUND")
    replayer.passkey.generate_authenticate_options()
    refused("a replayed assertion for a new challenge",
            lambda: replayer.passkey.verify_authentication(response=assertion), 400, "AUTHENTICATION_FAILED")
    phished = browser()
    refused("an assertion made for another site",
            lambda: phished.passkey.verify_authentication(
                response=soft_authenticate(device, phished.passkey.generate_authenticate_options(),
                                           "https://evil.example")),
            400, "AUTHENTICATION_FAILED")
    unknown = browser()
    refused("a credential nobody registered",
            lambda: unknown.passkey.verify_authentication(
                response=Authenticator().get(unknown.passkey.generate_authenticate_options(), origin)),
            401, "PASSKEY_NOT_FOUND")

    # --- Every algorithm and both attestation formats ----------------------------------------
    ada = browser()
    ada.sign_in.email(email="ada@example.test", password=PASSWORD)
    keys = {}
    for alg, fmt, name in ((-8, "packed", "EdDSA key"), (-257, "none", "RS256 key"), (-7, "packed", "ES256 key"),
                           (-257, "packed", "RS256 packed")):
        authenticator = Authenticator(alg, fmt)
        created = ada.passkey.verify_registration(
            response=authenticator.create(ada.passkey.generate_register_options(), origin), name=name)
        check(created["transports"] == "usb", f"register {name} ({fmt})")
        client = browser()
        result = client.passkey.verify_authentication(
            response=authenticator.get(client.passkey.generate_authenticate_options(), origin))
        check(result["user"]["id"] == ada_user["id"], f"sign in with {name}")
        keys[name] = (authenticator, created)
    forged = Authenticator(-7, "packed")
    refused("a packed attestation that does not verify",
            lambda: ada.passkey.verify_registration(
                response=forged.create(ada.passkey.generate_register_options(), origin, forge=True)),
            400, "FAILED_TO_VERIFY_REGISTRATION")
    authenticator, created = keys["EdDSA key"]
    client = browser()
    refused("a counter that did not grow (a cloned authenticator)",
            lambda: client.passkey.verify_authentication(
                response=authenticator.get(client.passkey.generate_authenticate_options(), origin, count=1)),
            401, "AUTHENTICATION_FAILED")
    stored = {p["name"]: p for p in ada.passkey.list_user_passkeys()}
    check(stored["EdDSA key"]["counter"] == 1, "the counter is kept", stored["EdDSA key"])

    # --- Rename and delete ----------------------------------------------------------------------
    renamed = ada.passkey.update_passkey(id=created["id"], name="  Security key  ")
    check(renamed["passkey"]["name"] == "Security key", "update-passkey")
    refused("an empty name", lambda: ada.passkey.update_passkey(id=created["id"], name=" "), 400, "VALIDATION_ERROR")
    refused("someone else's passkey", lambda: bob.passkey.delete_passkey(id=created["id"]), 404, "PASSKEY_NOT_FOUND")
    refused("renaming someone else's", lambda: bob.passkey.update_passkey(id=created["id"], name="mine"), 404,
            "PASSKEY_NOT_FOUND")
    check(ada.passkey.delete_passkey(id=created["id"]) == {"status": True}, "delete-passkey")
    refused("deleted", lambda: ada.passkey.delete_passkey(id=created["id"]), 404, "PASSKEY_NOT_FOUND")
    client = browser()
    refused("a deleted passkey signs nobody in",
            lambda: client.passkey.verify_authentication(
                response=authenticator.get(client.passkey.generate_authenticate_options(), origin)),
            401, "PASSKEY_NOT_FOUND")

    # --- The same policies as a password ------------------------------------------------------
    carol = browser()
    carol_user = carol.sign_up.email(name="Carol", email="carol@example.test", password=PASSWORD)["user"]
    carols_key = Authenticator(-7, "none")
    carol.passkey.verify_registration(response=carols_key.create(carol.passkey.generate_register_options(), origin))
    for attempt in range(5):
        client = browser()
        options = client.passkey.generate_authenticate_options()
        bad = carols_key.get(options, origin)
        bad["response"]["signature"] = b64u(Authenticator(-7).sign(b"not this"))
        refused(f"a wrong signature ({attempt + 1})",
                lambda: client.passkey.verify_authentication(response=bad), 401, "AUTHENTICATION_FAILED")
    client = browser()
    refused("locked out like a password", lambda: client.passkey.verify_authentication(
        response=carols_key.get(client.passkey.generate_authenticate_options(), origin)), 429, "TOO_MANY_REQUESTS")

    # With two-factor authentication on, a passkey must verify its user (PIN, biometrics).
    enabled = bob.two_factor.enable(password=PASSWORD)
    secret = urllib.parse.parse_qs(urllib.parse.urlparse(enabled["totpURI"]).query)["secret"][0]
    bob.two_factor.verify_totp(code=totp(secret, time.time()))
    check(bob.get_session()["user"]["twoFactorEnabled"] is True, "bob turns two-factor on")
    bobs_device, bobs_key = SoftWebauthnDevice(), Authenticator(-7, "none")
    bob.passkey.verify_registration(response=soft_register(bobs_device, bob.passkey.generate_register_options(),
                                                           origin))
    bob.passkey.verify_registration(response=bobs_key.create(bob.passkey.generate_register_options(), origin))
    client = browser()
    refused("a passkey without user verification is not two factors",
            lambda: client.passkey.verify_authentication(
                response=soft_authenticate(bobs_device, client.passkey.generate_authenticate_options(), origin)),
            400, "AUTHENTICATION_FAILED")
    client = browser()
    verified = client.passkey.verify_authentication(
        response=bobs_key.get(client.passkey.generate_authenticate_options(), origin))
    check(verified["user"]["email"] == "bob@example.test", "a passkey that verified its user signs bob in")

    root = browser()
    root.sign_in.email(email=args.root_email, password=args.root_password)
    check(root.admin.ban_user(userId=ada_user["id"])["user"]["banned"] is True, "ada is banned")
    client = browser()
    es256, _ = keys["ES256 key"]
    refused("a banned account's passkey", lambda: client.passkey.verify_authentication(
        response=es256.get(client.passkey.generate_authenticate_options(), origin)), 403, "BANNED_USER")
    root.admin.unban_user(userId=ada_user["id"])

    # --- Impersonation ---------------------------------------------------------------------------
    dave = browser()
    dave_user = dave.sign_up.email(name="Dave", email="dave@example.test", password=PASSWORD)["user"]
    acting = root.admin.impersonate_user(userId=dave_user["id"])
    check(acting["user"]["id"] == dave_user["id"] and acting["session"]["impersonatedBy"], "impersonate-user")
    check(root.get_session()["user"]["id"] == dave_user["id"], "the admin's browser is Dave's for now")
    refused("no passkey from an impersonation", lambda: root.passkey.generate_register_options(), 403,
            "YOU_ARE_NOT_ALLOWED_TO_REGISTER_THIS_PASSKEY")
    back = root.admin.stop_impersonating()
    check(back["user"]["email"] == args.root_email, "stop-impersonating")
    check(root.get_session()["user"]["email"] == args.root_email, "the admin's own session again")
    refused("a plain user may not impersonate", lambda: dave.admin.impersonate_user(userId=carol_user["id"]), 403,
            "YOU_ARE_NOT_ALLOWED_TO_IMPERSONATE_USERS")

    print("all steps passed", flush=True)


if __name__ == "__main__":
    main()
