import Foundation
import GRDB
import GatehouseCore
import TestSupport
import Testing

@testable import GatehouseStore

/// The stored form of every record, column by column: a database written by an earlier version
/// must read the same, and this version must write what earlier versions read. Each record is
/// written through the store, read back raw, and read back through the store.
@Suite struct StoredFormatTests {
    static let t0 = Date(timeIntervalSince1970: 1_767_225_600.125)  // 2026-01-01 00:00:00.125 UTC
    static let t1 = t0.addingTimeInterval(3600)

    /// Every row of `table` in insertion order, one line each: `column=value` with SQLite's own
    /// types (text quoted, integers bare, NULL).
    func dump(_ store: SQLiteStore, _ table: String) async throws -> [String] {
        try await store.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM \(table) ORDER BY rowid").map { row in
                row.map { column, value in "\(column)=\(value)" }.joined(separator: " ")
            }
        }
    }

    @Test func everyRecordIsStoredAsBefore() async throws {
        let store = try await makeStore()
        let (t0, t1) = (Self.t0, Self.t1)
        let user = User(
            id: "uaaaaaaaaaaaaaaaaaaaaaaaa",
            email: "ada@example.com",
            passwordHash: "$argon2id$h",
            firstName: "Ada",
            lastName: "Lovelace",
            displayName: "Ada L.",
            role: .admin,
            portalType: .enterprise,
            emailVerified: true,
            twoFactorEnabled: false,
            suspended: true,
            settings: ["theme": "dark", "beta": true, "n": 3],
            address: "1 Road",
            billingCity: "London",
            billingState: nil,
            billingZip: "N1",
            billingCountry: "GB",
            dateOfBirth: "1990-12-10",
            avatarUrl: "https://example.com/a.png",
            createdAt: t0,
            updatedAt: t1
        )
        var audit = AuditEvent(
            .userCreated,
            userId: user.id,
            actorId: nil,
            ip: "10.0.0.1",
            detail: ["role": "admin"],
            at: t0
        )
        audit.id = "eaaaaaaaaaaaaaaaaaaaaaaaa"
        try await store.insertUser(user, audit: [audit])

        let session = Session(
            id: "saaaaaaaaaaaaaaaaaaaaaaaa",
            userId: user.id,
            tokenHash: "th",
            createdAt: t0,
            lastSeenAt: t0,
            expiresAt: t1,
            ip: "::1",
            userAgent: nil
        )
        let mail = OutboxMail(
            id: "maaaaaaaaaaaaaaaaaaaaaaaa",
            to: "ada@example.com",
            subject: "Hi",
            text: "t",
            html: "<p>t</p>",
            status: .pending,
            attempts: 0,
            nextAttemptAt: t0,
            lastError: nil,
            messageId: nil,
            createdAt: t0,
            sentAt: nil
        )
        try await store.insertSession(session, keepAtMost: 10, audit: [], mails: [mail])

        let apiKey = APIKey(
            id: "kaaaaaaaaaaaaaaaaaaaaaaaa",
            userId: user.id,
            name: "ci",
            prefix: "gh_abc",
            keyHash: "kh",
            createdAt: t0,
            lastUsedAt: nil,
            expiresAt: t1
        )
        var keyAudit = AuditEvent(.apiKeyCreated, userId: user.id, ip: nil, at: t0)
        keyAudit.id = "ebaaaaaaaaaaaaaaaaaaaaaaa"
        #expect(try await store.insertAPIKey(apiKey, maxPerUser: 5, audit: keyAudit, mails: []))

        let sshKey = SSHKey(
            id: "haaaaaaaaaaaaaaaaaaaaaaaa",
            userId: user.id,
            name: "laptop",
            type: "ssh-ed25519",
            fingerprint: "SHA256:fp",
            publicKey: "ssh-ed25519 AAAA",
            createdAt: t0
        )
        var sshAudit = AuditEvent(.sshKeyAdded, userId: user.id, ip: nil, at: t0)
        sshAudit.id = "ecaaaaaaaaaaaaaaaaaaaaaaa"
        _ = try await store.insertSSHKey(sshKey, uniqueAcrossUsers: true, audit: sshAudit, mails: [])

        let passkey = Passkey(
            id: "paaaaaaaaaaaaaaaaaaaaaaaa",
            userId: user.id,
            name: "Laptop",
            credentialID: "Y3JlZGVudGlhbA",
            publicKey: [0xA5, 0x01, 0x02],
            counter: 7,
            deviceType: "multiDevice",
            backedUp: true,
            transports: ["hybrid", "internal"],
            aaguid: "00000000-0000-0000-0000-000000000000",
            createdAt: t0
        )
        var passkeyAudit = AuditEvent(.passkeyAdded, userId: user.id, ip: nil, at: t0)
        passkeyAudit.id = "efaaaaaaaaaaaaaaaaaaaaaaa"
        #expect(try await store.insertPasskey(passkey, limit: 25, audit: passkeyAudit, mails: []))
        let passkeyChallenge = PasskeyChallenge(
            tokenHash: "pch",
            ceremony: .registration,
            challenge: "Y2hhbGxlbmdl",
            userId: user.id,
            expiresAt: t1
        )
        #expect(try await store.insertPasskeyChallenge(passkeyChallenge, perSource: 10, limit: 10, now: t0))

        let server = Server(
            id: "vaaaaaaaaaaaaaaaaaaaaaaaa",
            name: "mc",
            status: "running",
            ownerId: user.id,
            nodeDisplayName: nil,
            createdAt: t0
        )
        try await store.insertServer(server)

        let reset = PasswordReset(
            id: "raaaaaaaaaaaaaaaaaaaaaaaa",
            userId: user.id,
            tokenHash: "rh",
            expiresAt: t1,
            createdAt: t0
        )
        var resetMail = mail
        resetMail.id = "mbaaaaaaaaaaaaaaaaaaaaaaa"
        var resetAudit = AuditEvent(.passwordResetRequested, userId: user.id, ip: nil, at: t0)
        resetAudit.id = "edaaaaaaaaaaaaaaaaaaaaaaa"
        try await store.createPasswordReset(reset, mail: resetMail, audit: resetAudit)

        let secret = TwoFactorSecret(
            userId: user.id,
            sealedSecret: "sealed",
            enabled: false,
            lastUsedStep: nil,
            createdAt: t0
        )
        try await store.savePendingTwoFactor(secret, backupCodeHashes: [])
        let challenge = LoginChallenge(
            id: "caaaaaaaaaaaaaaaaaaaaaaaa",
            userId: user.id,
            tokenHash: "ch",
            expiresAt: Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + 3600).rounded()),
            attempts: 1,
            createdAt: t0
        )
        try await store.insertLoginChallenge(challenge)

        let newcomer = User(
            id: "ubaaaaaaaaaaaaaaaaaaaaaaa",
            email: "bob@example.com",
            passwordHash: "$argon2id$b",
            firstName: "Bob",
            lastName: "B",
            createdAt: t0,
            updatedAt: t0
        )
        let verification = EmailVerification(
            id: "yaaaaaaaaaaaaaaaaaaaaaaaa",
            userId: newcomer.id,
            tokenHash: "vh",
            codeHash: "vc",
            expiresAt: t1,
            attempts: 2,
            createdAt: t0
        )
        var welcome = mail
        welcome.id = "mcaaaaaaaaaaaaaaaaaaaaaaa"
        welcome.status = .failed
        welcome.attempts = 3
        welcome.lastError = "550 no"
        welcome.messageId = "<m@x>"
        welcome.sentAt = t1
        welcome.template = "verify-email"
        var registered = AuditEvent(.userRegistered, userId: newcomer.id, ip: nil, detail: [:], at: t0)
        registered.id = "eeaaaaaaaaaaaaaaaaaaaaaaa"
        try await store.createAccount(newcomer, verification: verification, mail: welcome, audit: registered)

        // What is on disk, exactly.
        let stored = [
            "users": try await dump(store, "users"),
            "sessions": try await dump(store, "sessions"),
            "api_keys": try await dump(store, "api_keys"),
            "ssh_keys": try await dump(store, "ssh_keys"),
            "servers": try await dump(store, "servers"),
            "password_resets": try await dump(store, "password_resets"),
            "two_factor": try await dump(store, "two_factor"),
            "login_challenges": try await dump(store, "login_challenges")
                .map {
                    $0.replacingOccurrences(of: #"expiresAt="[^"]*""#, with: "expiresAt=…", options: .regularExpression)
                },
            "email_verifications": try await dump(store, "email_verifications"),
            "mail_outbox": try await dump(store, "mail_outbox"),
            "audit_events": try await dump(store, "audit_events"),
            "passkeys": try await dump(store, "passkeys"),
            "passkey_challenges": try await dump(store, "passkey_challenges"),
        ]
        let expected: [String: [String]] = [
            "api_keys": [
                #"id="kaaaaaaaaaaaaaaaaaaaaaaaa" userId="uaaaaaaaaaaaaaaaaaaaaaaaa" name="ci" prefix="gh_abc" keyHash="kh" createdAt="2026-01-01 00:00:00.125" lastUsedAt=NULL expiresAt="2026-01-01 01:00:00.125""#
            ],
            "audit_events": [
                #"id="eaaaaaaaaaaaaaaaaaaaaaaaa" kind="user.created" userId="uaaaaaaaaaaaaaaaaaaaaaaaa" actorId=NULL ip="10.0.0.1" detail="{\"role\":\"admin\"}" createdAt="2026-01-01 00:00:00.125""#,
                #"id="ebaaaaaaaaaaaaaaaaaaaaaaa" kind="apiKey.created" userId="uaaaaaaaaaaaaaaaaaaaaaaaa" actorId=NULL ip=NULL detail="{}" createdAt="2026-01-01 00:00:00.125""#,
                #"id="ecaaaaaaaaaaaaaaaaaaaaaaa" kind="sshKey.added" userId="uaaaaaaaaaaaaaaaaaaaaaaaa" actorId=NULL ip=NULL detail="{}" createdAt="2026-01-01 00:00:00.125""#,
                #"id="efaaaaaaaaaaaaaaaaaaaaaaa" kind="passkey.added" userId="uaaaaaaaaaaaaaaaaaaaaaaaa" actorId=NULL ip=NULL detail="{}" createdAt="2026-01-01 00:00:00.125""#,
                #"id="edaaaaaaaaaaaaaaaaaaaaaaa" kind="password.resetRequested" userId="uaaaaaaaaaaaaaaaaaaaaaaaa" actorId=NULL ip=NULL detail="{}" createdAt="2026-01-01 00:00:00.125""#,
                #"id="eeaaaaaaaaaaaaaaaaaaaaaaa" kind="user.registered" userId="ubaaaaaaaaaaaaaaaaaaaaaaa" actorId=NULL ip=NULL detail="{}" createdAt="2026-01-01 00:00:00.125""#,
            ],
            "email_verifications": [
                #"id="yaaaaaaaaaaaaaaaaaaaaaaaa" userId="ubaaaaaaaaaaaaaaaaaaaaaaa" tokenHash="vh" codeHash="vc" expiresAt="2026-01-01 01:00:00.125" attempts=2 createdAt="2026-01-01 00:00:00.125""#
            ],
            "login_challenges": [
                #"id="caaaaaaaaaaaaaaaaaaaaaaaa" userId="uaaaaaaaaaaaaaaaaaaaaaaaa" tokenHash="ch" expiresAt=… attempts=1 createdAt="2026-01-01 00:00:00.125""#
            ],
            "mail_outbox": [
                #"id="maaaaaaaaaaaaaaaaaaaaaaaa" to="ada@example.com" subject="Hi" text="t" html="<p>t</p>" status="pending" attempts=0 nextAttemptAt="2026-01-01 00:00:00.125" lastError=NULL messageId=NULL createdAt="2026-01-01 00:00:00.125" sentAt=NULL template=NULL"#,
                #"id="mbaaaaaaaaaaaaaaaaaaaaaaa" to="ada@example.com" subject="Hi" text="t" html="<p>t</p>" status="pending" attempts=0 nextAttemptAt="2026-01-01 00:00:00.125" lastError=NULL messageId=NULL createdAt="2026-01-01 00:00:00.125" sentAt=NULL template=NULL"#,
                #"id="mcaaaaaaaaaaaaaaaaaaaaaaa" to="ada@example.com" subject="Hi" text="t" html="<p>t</p>" status="failed" attempts=3 nextAttemptAt="2026-01-01 00:00:00.125" lastError="550 no" messageId="<m@x>" createdAt="2026-01-01 00:00:00.125" sentAt="2026-01-01 01:00:00.125" template="verify-email""#,
            ],
            "passkey_challenges": [
                #"tokenHash="pch" ceremony="registration" challenge="Y2hhbGxlbmdl" userId="uaaaaaaaaaaaaaaaaaaaaaaaa" source=NULL expiresAt="2026-01-01 01:00:00.125""#
            ],
            "passkeys": [
                #"id="paaaaaaaaaaaaaaaaaaaaaaaa" userId="uaaaaaaaaaaaaaaaaaaaaaaaa" name="Laptop" credentialID="Y3JlZGVudGlhbA" publicKey=\#(Data([0xA5, 0x01, 0x02]).databaseValue) counter=7 deviceType="multiDevice" backedUp=1 transports="hybrid,internal" aaguid="00000000-0000-0000-0000-000000000000" createdAt="2026-01-01 00:00:00.125""#
            ],
            "password_resets": [
                #"id="raaaaaaaaaaaaaaaaaaaaaaaa" userId="uaaaaaaaaaaaaaaaaaaaaaaaa" tokenHash="rh" expiresAt="2026-01-01 01:00:00.125" createdAt="2026-01-01 00:00:00.125""#
            ],
            "servers": [
                #"id="vaaaaaaaaaaaaaaaaaaaaaaaa" name="mc" status="running" ownerId="uaaaaaaaaaaaaaaaaaaaaaaaa" nodeDisplayName=NULL createdAt="2026-01-01 00:00:00.125""#
            ],
            "sessions": [
                #"id="saaaaaaaaaaaaaaaaaaaaaaaa" userId="uaaaaaaaaaaaaaaaaaaaaaaaa" tokenHash="th" createdAt="2026-01-01 00:00:00.125" lastSeenAt="2026-01-01 00:00:00.125" expiresAt="2026-01-01 01:00:00.125" ip="::1" userAgent=NULL impersonatedBy=NULL impersonatorSessionId=NULL"#
            ],
            "ssh_keys": [
                #"id="haaaaaaaaaaaaaaaaaaaaaaaa" userId="uaaaaaaaaaaaaaaaaaaaaaaaa" name="laptop" type="ssh-ed25519" fingerprint="SHA256:fp" publicKey="ssh-ed25519 AAAA" createdAt="2026-01-01 00:00:00.125""#
            ],
            "two_factor": [
                #"userId="uaaaaaaaaaaaaaaaaaaaaaaaa" sealedSecret="sealed" enabled=0 lastUsedStep=NULL createdAt="2026-01-01 00:00:00.125""#
            ],
            "users": [
                #"id="uaaaaaaaaaaaaaaaaaaaaaaaa" email="ada@example.com" passwordHash="$argon2id$h" firstName="Ada" lastName="Lovelace" displayName="Ada L." role="admin" portalType="enterprise" emailVerified=1 twoFactorEnabled=0 suspended=1 settings="{\"beta\":true,\"n\":3,\"theme\":\"dark\"}" address="1 Road" billingCity="London" billingState=NULL billingZip="N1" billingCountry="GB" dateOfBirth="1990-12-10" avatarUrl="https://example.com/a.png" createdAt="2026-01-01 00:00:00.125" updatedAt="2026-01-01 01:00:00.125""#,
                #"id="ubaaaaaaaaaaaaaaaaaaaaaaa" email="bob@example.com" passwordHash="$argon2id$b" firstName="Bob" lastName="B" displayName=NULL role="user" portalType="free" emailVerified=0 twoFactorEnabled=0 suspended=0 settings="{}" address=NULL billingCity=NULL billingState=NULL billingZip=NULL billingCountry=NULL dateOfBirth=NULL avatarUrl=NULL createdAt="2026-01-01 00:00:00.125" updatedAt="2026-01-01 00:00:00.125""#,
            ],
        ]
        for table in expected.keys.sorted() {
            #expect(stored[table] == expected[table], "\(table)")
        }
        #expect(stored.keys.sorted() == expected.keys.sorted())

        // Read back through the store: the same values.
        #expect(try await store.user(id: user.id) == user)
        #expect(try await store.user(id: newcomer.id) == newcomer)
        #expect(try await store.sessions(userId: user.id, now: t0) == [session])
        #expect(try await store.apiKeys(userId: user.id) == [apiKey])
        #expect(try await store.sshKeys(userId: user.id) == [sshKey])
        #expect(try await store.server(id: server.id) == server)
        #expect(try await store.passwordReset(tokenHash: "rh") == reset)
        #expect(try await store.twoFactorSecret(userId: user.id) == secret)
        #expect(try await store.loginChallenge(tokenHash: "ch", now: t0) == challenge)
        #expect(try await store.verification(tokenHash: "vh") == verification)
        #expect(try await store.outboxMails() == [mail, resetMail, welcome])
        #expect(
            try await store.auditEvents(userId: nil, limit: 10) == [
                registered, resetAudit, passkeyAudit, sshAudit, keyAudit, audit,
            ]
        )
        #expect(try await store.passkeys(userId: user.id) == [passkey])
        #expect(try await store.passkey(credentialID: "Y3JlZGVudGlhbA") == passkey)
        #expect(try await store.takePasskeyChallenge(tokenHash: "pch", now: t0) == passkeyChallenge)
        #expect(try await store.takePasskeyChallenge(tokenHash: "pch", now: t0) == nil)
    }
}
