"""StellarStack's web client's calls, made with better-auth-client (PyPI) against Gatehouse.

    better_auth_flow.py --base http://127.0.0.1:PORT --maildir DIR --origin http://localhost:3000

Each step prints "ok <step>"; the first mismatch raises (exit status 1, with the step and what
came back). Mail is read from the test SMTP server's folder (one .eml per message).
"""

import argparse
import base64
import email
import glob
import hashlib
import hmac
import os
import re
import struct
import sys
import time
import urllib.parse

from better_auth_client import APIError, AuthClient

PASSWORD = "Str0ng!pass-phrase"
# Seconds the client waits for an answer (httpx's default is 5): the test process runs dozens of
# servers and suites at once on two cores, where a few seconds' stall is load, not a hang.
CLIENT_TIMEOUT = 120
# Seconds to wait for a mail to reach the test mail server: a loaded run has taken over 20.
MAIL_TIMEOUT = 90


def check(condition, step, detail=""):
    if not condition:
        raise AssertionError(f"{step}: {detail}")
    print(f"ok {step}", flush=True)


def refused(step, call, status, code):
    try:
        result = call()
    except APIError as error:
        check(error.status == status and error.code == code, step, f"{error.status} {error.code} {error.body}")
        return
    raise AssertionError(f"{step}: expected {status} {code}, got {result!r}")


def mails(maildir):
    found = []
    for path in sorted(glob.glob(os.path.join(maildir, "*.eml")), key=lambda p: int(os.path.basename(p)[:-4])):
        with open(path, "rb") as f:
            message = email.message_from_bytes(f.read())
        text = ""
        for part in message.walk():
            if part.get_content_type() == "text/plain":
                text = part.get_payload(decode=True).decode()
        found.append((message["To"], message["Subject"], text))
    return found


def wait_for_mail(maildir, count, step, match=None):
    """Mail number `count`; with `match`, the first from there on that it accepts (another mail,
    such as a notice of an earlier step, may be delivered in between)."""
    deadline = time.time() + MAIL_TIMEOUT
    while time.time() < deadline:
        found = mails(maildir)
        if match is None and len(found) >= count:
            return found[count - 1]
        if match is not None:
            for mail in found[count - 1:]:
                if match(*mail):
                    return mail
        time.sleep(0.1)
    raise AssertionError(f"{step}: mail {count} did not arrive ({len(mails(maildir))} so far)")


def totp(secret_base32, at):
    padded = secret_base32 + "=" * (-len(secret_base32) % 8)
    key = base64.b32decode(padded.upper())
    digest = hmac.new(key, struct.pack(">Q", int(at) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 1_000_000:06d}"


def flow_arguments():
    """The arguments every flow script takes (see the module's docstring)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--maildir", required=True)
    parser.add_argument("--origin", required=True)
    parser.add_argument("--root-email", required=True)
    parser.add_argument("--root-password", required=True)
    return parser.parse_args()


def main():
    args = flow_arguments()
    origin = {"origin": args.origin}

    def browser():
        return AuthClient(args.base, headers=origin, timeout=CLIENT_TIMEOUT)

    ada = browser()
    address = "ada@example.test"

    # Sign-up signs in (cookie and set-auth-token); the verification link's token verifies.
    signed_up = ada.sign_up.email(name="Ada Lovelace", email=address, password=PASSWORD)
    check(signed_up["user"]["email"] == address and signed_up["token"], "sign-up")
    check(ada.get_session()["user"]["emailVerified"] is False, "unverified at first")
    _, subject, text = wait_for_mail(args.maildir, 1, "verification mail")
    token = re.search(r"verify-email\?token=([A-Za-z0-9_-]+)", text).group(1)
    check(ada.verify_email(token=token) == {"status": True, "user": None}, "verify-email")
    check(ada.get_session()["user"]["emailVerified"] is True, "verified")
    refused("send-verification-email when verified", lambda: ada.send_verification_email(email=address), 400,
            "EMAIL_ALREADY_VERIFIED")
    check(browser().send_verification_email(email="nobody@example.test") == {"status": True},
          "send-verification-email for an unknown address")

    # Sessions: a second browser, listed, then revoked as "other".
    laptop = browser()
    laptop.sign_in.email(email=address, password=PASSWORD)
    sessions = ada.list_sessions()
    check(len(sessions) == 2 and all(s["userId"] == signed_up["user"]["id"] for s in sessions), "list-sessions")
    check(ada.revoke_other_sessions() == {"status": True}, "revoke-other-sessions")
    check(laptop.get_session() is None, "the other browser is signed out")
    check(len(ada.list_sessions()) == 1, "one session left")
    phone = browser()
    phone.sign_in.email(email=address, password=PASSWORD)
    phone_session = phone.get_session()["session"]["id"]
    check(ada.revoke_session(token=phone_session) == {"status": True}, "revoke-session")
    check(phone.get_session() is None, "that session ended")

    # Profile.
    check(ada.update_user(name="Ada King") == {"status": True}, "update-user")
    check(ada.get_session()["user"]["name"] == "Ada King", "the new name")
    refused("update-user refuses an email", lambda: ada.update_user(email="x@example.test"), 400,
            "EMAIL_CAN_NOT_BE_UPDATED")

    # Password: the wrong current one, then a change that replaces the session.
    new_password = "An0ther!pass-phrase"
    refused("change-password with a wrong password",
            lambda: ada.change_password(currentPassword="Wr0ng!guess-here", newPassword=new_password), 400,
            "INVALID_PASSWORD")
    refused("change-password too short", lambda: ada.change_password(currentPassword=PASSWORD, newPassword="x"),
            400, "PASSWORD_TOO_SHORT")
    changed = ada.change_password(currentPassword=PASSWORD, newPassword=new_password, revokeOtherSessions=True)
    check(changed["token"] and changed["user"]["email"] == address, "change-password")
    check(ada.get_session()["user"]["email"] == address, "still signed in")
    password = new_password

    # Two-factor: enable, confirm with a code, sign in with TOTP and with a backup code.
    refused("two-factor/enable with a wrong password", lambda: ada.two_factor.enable(password="Wr0ng!guess-here"),
            400, "INVALID_PASSWORD")
    enabled = ada.two_factor.enable(password=password)
    secret = urllib.parse.parse_qs(urllib.parse.urlparse(enabled["totpURI"]).query)["secret"][0]
    codes = enabled["backupCodes"]
    check(enabled["totpURI"].startswith("otpauth://totp/") and len(codes) == 10, "two-factor/enable")
    now = time.time()
    confirmed = ada.two_factor.verify_totp(code=totp(secret, now))
    check(confirmed["token"] and ada.get_session() is not None, "two-factor/verify-totp turns it on")
    check(ada.two_factor.get_totp_uri(password=password)["totpURI"] == enabled["totpURI"], "two-factor/get-totp-uri")
    check(ada.sign_out() == {"success": True}, "sign-out")
    check(ada.get_session() is None, "signed out")

    first = ada.sign_in.email(email=address, password=password)
    check(first.get("twoFactorRedirect") is True, "sign-in asks for the second factor")
    signed_in = ada.two_factor.verify_totp(code=totp(secret, now + 30))
    check(signed_in["user"]["email"] == address and ada.get_session() is not None, "sign-in with a TOTP code")
    ada.sign_out()
    ada.sign_in.email(email=address, password=password)
    check(ada.two_factor.verify_backup_code(code=codes[0], trustDevice=True)["token"],
          "sign-in with a backup code, trusting this browser")
    check(ada._http.cookies.get("better-auth.trust_device"), "a trusted-device cookie")
    ada.sign_out()
    trusted = ada.sign_in.email(email=address, password=password)
    check(trusted.get("token") and "twoFactorRedirect" not in trusted, "a trusted browser skips the code")
    fresh = ada.two_factor.generate_backup_codes(password=password)
    check(fresh["status"] is True and len(fresh["backupCodes"]) == 10, "two-factor/generate-backup-codes")
    other = browser()
    check(other.sign_in.email(email=address, password=password).get("twoFactorRedirect") is True,
          "another browser is asked for the code")
    refused("an old backup code is gone", lambda: other.two_factor.verify_backup_code(code=codes[1]), 401,
            "INVALID_BACKUP_CODE")
    count = len(mails(args.maildir))
    by_mail = browser()
    by_mail.sign_in.email(email=address, password=password)
    check(by_mail.two_factor.send_otp() == {"status": True}, "two-factor/send-otp")
    to, _, text = wait_for_mail(args.maildir, count + 1, "the sign-in code")
    code = re.search(r"sign-in code: (\d{6})", text).group(1)
    wrong = "000000" if code != "000000" else "111111"
    refused("a wrong mailed code", lambda: by_mail.two_factor.verify_otp(code=wrong), 401, "INVALID_CODE")
    check(by_mail.two_factor.verify_otp(code=code)["user"]["email"] == address, "two-factor/verify-otp")
    refused("the code worked once", lambda: by_mail.two_factor.verify_otp(code=code), 401,
            "INVALID_TWO_FACTOR_COOKIE")
    other.two_factor.verify_backup_code(code=fresh["backupCodes"][0])
    check(other.two_factor.disable(password=password) == {"status": True}, "two-factor/disable")
    ada.sign_out()
    check(ada.sign_in.email(email=address, password=password)["token"], "sign-in without a second factor again")

    # A token-only client: the set-auth-token header, then Bearer without cookies.
    script = AuthClient(args.base, timeout=CLIENT_TIMEOUT)
    script.sign_in.email(email=address, password=password)
    script._http.cookies.clear()
    check(script.get_session()["user"]["email"] == address, "Bearer from set-auth-token")

    # The origin check: a cookie write from elsewhere is refused.
    stranger = AuthClient(args.base, headers={"origin": "null"}, timeout=CLIENT_TIMEOUT)
    stranger._http.cookies = ada._http.cookies
    try:
        stranger.sign_out()
        raise AssertionError("origin check: a write without an origin went through")
    except APIError as error:
        check(error.status == 403 and error.code == "MISSING_OR_NULL_ORIGIN", "origin check", str(error))

    # A forgotten password: the same answer for unknown addresses, a link to redirectTo.
    count = len(mails(args.maildir))
    # (The client names the route by its older name, forget-password; the newer one is posted
    # to directly.)
    answer = browser().forget_password(email=address, redirectTo=f"{args.origin}/reset")
    check(answer["status"] is True and "If this email exists" in answer["message"], "forget-password")
    unknown = browser()._http.post("/request-password-reset", json={"email": "nobody@example.test"})
    check(unknown.status_code == 200 and unknown.json() == answer, "request-password-reset, unknown address")
    _, subject, text = wait_for_mail(args.maildir, count + 1, "reset mail")
    reset_token = re.search(re.escape(args.origin) + r"/reset\?token=([A-Za-z0-9_-]+)", text).group(1)
    link = ada._http.get(f"/reset-password/{reset_token}", params={"callbackURL": "/reset"})
    check(link.status_code == 302 and link.headers["location"].endswith(f"/reset?token={reset_token}"),
          "the reset link forwards its token", f"{link.status_code} {link.headers.get('location')}")
    bad = ada._http.get("/reset-password/not-a-token", params={"callbackURL": "/reset"})
    check(bad.headers.get("location", "").endswith("/reset?error=INVALID_TOKEN"), "a bad reset link")
    final_password = "Thi5d!pass-phrase"
    check(browser().reset_password(newPassword=final_password, token=reset_token) == {"status": True},
          "reset-password")
    refused("the reset token is spent", lambda: browser().reset_password(newPassword=final_password,
                                                                        token=reset_token), 400, "INVALID_TOKEN")
    check(ada.get_session() is None, "a reset ends every session")

    # A new address: confirmed from the old one, proven from the new one.
    ada.sign_in.email(email=address, password=final_password)
    new_address = "ada.king@example.test"
    refused("change-email to the same address", lambda: ada.change_email(newEmail=address), 400, "")
    count = len(mails(args.maildir))
    check(ada.change_email(newEmail=new_address) == {"status": True}, "change-email")
    linked = lambda to_address: lambda to, _, text: to == to_address and "verify-email?token=" in text
    to, _, text = wait_for_mail(args.maildir, count + 1, "the old address's confirmation", linked(address))
    check(to == address, "the old address confirms first", to)
    confirm = re.search(r"verify-email\?token=([A-Za-z0-9_-]+)", text).group(1)
    check(ada.verify_email(token=confirm) == {"status": True, "user": None}, "confirmed")
    to, _, text = wait_for_mail(args.maildir, count + 1, "the new address's link", linked(new_address))
    check(to == new_address, "then the new address proves itself", to)
    prove = re.search(r"verify-email\?token=([A-Za-z0-9_-]+)", text).group(1)
    proven = ada.verify_email(token=prove)
    check(proven["user"]["email"] == new_address and proven["user"]["emailVerified"], "the address changed")
    to, subject, _ = wait_for_mail(args.maildir, count + 1, "the notice to the old address",
                                   lambda to, subject, _: to == address and "changed" in subject)
    check(to == address and "changed" in subject, "the old address hears of it", subject)
    refused("a link works once", lambda: ada.verify_email(token=prove), 401, "INVALID_TOKEN")
    address = new_address

    # Deleting the account.
    refused("delete-user with a wrong password", lambda: ada.delete_user(password="Wr0ng!guess-here"), 400,
            "INVALID_PASSWORD")
    check(ada.delete_user(password=final_password) == {"success": True, "message": "User deleted"}, "delete-user")
    refused("the account is gone", lambda: ada.sign_in.email(email=address, password=final_password), 401,
            "INVALID_EMAIL_OR_PASSWORD")
    admin_flow(args, browser)
    print("all steps passed", flush=True)


def admin_flow(args, browser):
    """The admin plugin, as a rootAdmin, as an admin and as a plain user."""
    root = browser()
    root.sign_in.email(email=args.root_email, password=args.root_password)
    bob = browser()
    bob_id = bob.sign_up.email(name="Bob Builder", email="bob@example.test", password=PASSWORD)["user"]["id"]

    found = root.admin.list_users(searchValue="bob@", searchField="email", searchOperator="starts_with")
    check(found["total"] == 1 and found["users"][0]["id"] == bob_id, "admin/list-users searches", str(found))
    check(found["users"][0]["role"] == "user" and found["users"][0]["banned"] is False, "the admin plugin's user")
    page = root.admin.list_users(limit=1, sortBy="email", sortDirection="asc")
    check(page["limit"] == 1 and len(page["users"]) == 1 and page["total"] >= 2, "admin/list-users pages")
    refused("a plain user may not list users", lambda: bob.admin.list_users(), 403, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS")

    carol = root.admin.create_user(email="carol@example.test", password=PASSWORD, name="Carol Admin", role="user")
    carol_id = carol["user"]["id"]
    check(carol["user"]["role"] == "user", "admin/create-user")
    refused("an address taken", lambda: root.admin.create_user(email="carol@example.test", password=PASSWORD,
                                                             name="Again"), 400,
            "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL")
    check(root.admin.set_role(userId=carol_id, role="admin")["user"]["role"] == "admin", "admin/set-role")
    carol_browser = browser()
    carol_browser.sign_in.email(email="carol@example.test", password=PASSWORD)
    root_id = root.get_session()["user"]["id"]
    refused("an admin may not touch a rootAdmin", lambda: carol_browser.admin.set_role(userId=root_id, role="user"),
            403, "YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE")

    sessions = carol_browser.admin.list_user_sessions(userId=bob_id)["sessions"]
    check(len(sessions) == 1, "admin/list-user-sessions")
    check(carol_browser.admin.revoke_user_session(sessionToken=sessions[0]["id"]) == {"success": True},
          "admin/revoke-user-session")
    check(bob.get_session() is None, "that session ended")
    bob.sign_in.email(email="bob@example.test", password=PASSWORD)
    check(carol_browser.admin.revoke_user_sessions(userId=bob_id) == {"success": True}, "admin/revoke-user-sessions")
    check(bob.get_session() is None, "every session ended")

    banned = carol_browser.admin.ban_user(userId=bob_id, banReason="spam")
    check(banned["user"]["banned"] is True, "admin/ban-user")
    refused("a banned user cannot sign in", lambda: bob.sign_in.email(email="bob@example.test", password=PASSWORD),
            403, "BANNED_USER")
    refused("nobody bans themself", lambda: carol_browser.admin.ban_user(userId=carol_id), 400,
            "YOU_CANNOT_BAN_YOURSELF")
    check(carol_browser.admin.unban_user(userId=bob_id)["user"]["banned"] is False, "admin/unban-user")
    new_password = "B0b!new-pass-phrase"
    check(carol_browser.admin.set_user_password(userId=bob_id, newPassword=new_password) == {"status": True},
          "admin/set-user-password")
    check(bob.sign_in.email(email="bob@example.test", password=new_password)["token"], "the new password works")
    refused("a plain user may not remove users", lambda: bob.admin.remove_user(userId=carol_id), 403,
            "YOU_ARE_NOT_ALLOWED_TO_DELETE_USERS")
    refused("nobody removes themself", lambda: carol_browser.admin.remove_user(userId=carol_id), 400,
            "YOU_CANNOT_REMOVE_YOURSELF")
    check(carol_browser.admin.remove_user(userId=bob_id) == {"success": True}, "admin/remove-user")
    refused("the removed user is gone", lambda: root.admin.set_role(userId=bob_id, role="user"), 404,
            "USER_NOT_FOUND")


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, APIError) as error:
        print(f"FAILED {error}", flush=True)
        sys.exit(1)
