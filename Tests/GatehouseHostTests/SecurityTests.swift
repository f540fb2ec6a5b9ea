import Foundation
import GatehouseCore
import Policies
import TestSupport
import Testing

@testable import GatehouseHost

/// The security model (README "Security model"), tried as an attacker would: over HTTP, with a
/// user, an admin and a rootAdmin.
@Suite struct SecurityTests {
    let password = TestServer.password

    func json(_ pairs: [(String, String)]) -> String {
        "{" + pairs.map { #""\#($0.0)":\#($0.1)"# }.joined(separator: ",") + "}"
    }

    func mails(_ server: TestServer, to address: String) async throws -> [OutboxMail] {
        try await server.outboxMails().filter { $0.to == address }
    }

    // MARK: 1. One role hierarchy

    @Test func anAdminCannotWriteToAnAdminOrARootAdminOnEitherSurface() async throws {
        try await TestServer.run { server in
            let root = try await server.createUser("root@example.com", role: .rootAdmin)
            let peer = try await server.createUser("peer@example.com", role: .admin)
            try await server.createUser("admin@example.com", role: .admin)
            let plain = try await server.createUser("plain@example.com")
            let session = try await server.client.login("admin@example.com", password)
            let key = try #require(
                try await server.client.post("/api/apikeys", #"{"name":"k"}"#, bearer: session).json?["key"]?
                    .stringValue
            )
            let ecliPanel = [
                #"{"firstName":"Mallory"}"#, #"{"displayName":"Mallory"}"#, #"{"settings":{"theme":"dark"}}"#,
                #"{"billingCountry":"DE"}"#, #"{"email":"mallory@evil.example","currentPassword":"\#(password)"}"#,
                #"{"password":"N3w!passw0rd","currentPassword":"\#(password)"}"#, #"{"role":"user"}"#,
                #"{"role":"staff"}"#, #"{"suspended":true}"#, #"{"portalType":"paid"}"#,
            ]
            let stellarStack = [
                #"{"name":"Mallory"}"#, #"{"image":"https://evil.example/a.png"}"#,
                #"{"email":"mallory@evil.example"}"#,
                #"{"role":"user"}"#,
            ]
            for target in [root, peer] {
                let before = try #require(try await server.core.store.user(id: target.id))
                let targetSession = try await server.client.login(target.email, password)
                for credential in [session, key] {
                    for body in ecliPanel {
                        let reply = try await server.client.put("/api/users/\(target.id)", body, bearer: credential)
                        #expect(reply.status == 403, "PUT \(body) on \(target.role) → \(reply)")
                    }
                    for body in stellarStack {
                        let reply = try await server.client.request(
                            "PATCH",
                            "/api/account/users/\(target.id)",
                            body: body,
                            bearer: credential
                        )
                        #expect(reply.status == 403, "PATCH \(body) on \(target.role) → \(reply)")
                    }
                    let deletion = try await server.client.request(
                        "DELETE",
                        "/api/account/users/\(target.id)",
                        bearer: credential
                    )
                    #expect(deletion.status == 403, "DELETE on \(target.role) → \(deletion)")
                }
                #expect(try await server.core.store.user(id: target.id) == before)
                #expect(try await server.client.get("/api/users/me", bearer: targetSession).status == 200)
            }
            // The same admin manages a user: the refusals above are the hierarchy, not a broken route.
            #expect(
                try await server.client.put("/api/users/\(plain.id)", #"{"firstName":"Pat"}"#, bearer: session).status
                    == 200
            )
            let viaKey = try await server.client.put("/api/users/\(plain.id)", #"{"suspended":true}"#, bearer: key)
            #expect(viaKey.status == 403)
            #expect(viaKey.error == "This action requires a session")
            #expect(
                try await server.client.put("/api/users/\(plain.id)", #"{"suspended":true}"#, bearer: session).status
                    == 200
            )
            // And a rootAdmin manages an admin.
            let rootSession = try await server.client.login("root@example.com", password)
            #expect(
                try await server.client.put("/api/users/\(peer.id)", #"{"firstName":"Pia"}"#, bearer: rootSession)
                    .status
                    == 200
            )
            // Creating an admin takes a rootAdmin's session, not their API key.
            let rootKey = try #require(
                try await server.client.post("/api/apikeys", #"{"name":"k"}"#, bearer: rootSession).json?["key"]?
                    .stringValue
            )
            let newAdmin = #"{"name":"New Admin","email":"new@example.com","password":"An0ther!pass","role":"admin"}"#
            let byKey = try await server.client.post("/api/account/users", newAdmin, bearer: rootKey)
            #expect(byKey.status == 403)
            #expect(byKey.error == "This action requires a session")
            #expect(try await server.core.store.user(email: "new@example.com") == nil)
            // A rootAdmin's servers are part of their account: an admin neither takes nor deletes them.
            let created = try await server.client.post(
                "/api/admin/servers",
                #"{"name":"root-box","ownerId":"\#(root.id)"}"#,
                bearer: rootSession
            )
            let serverId = try #require(created.json?["id"]?.stringValue, "\(created)")
            let take = try await server.client.post(
                "/api/admin/servers/\(serverId)/transfer",
                #"{"ownerId":"\#(plain.id)"}"#,
                bearer: session
            )
            #expect(take.status == 403)
            #expect(
                try await server.client.request("DELETE", "/api/admin/servers/\(serverId)", bearer: session).status
                    == 403
            )
            #expect(try await server.core.servers.owned(by: root.id).count == 1)
        }
    }

    // MARK: 2. A lockout that holds under a burst

    @Test func aBurstOfWrongPasswordsHasAtMostFiveChecked() async throws {
        try await TestServer.run { server in
            try await server.createUser("ada@example.com")
            let before = server.core.passwords.verificationsRun
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<30 {
                    group.addTask {
                        try await server.client.post(
                            "/api/auth/login",
                            #"{"email":"ada@example.com","password":"wrong"}"#
                        ).status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(server.core.passwords.verificationsRun - before <= 5)
            #expect(statuses.filter { $0 == 401 }.count <= 5, "\(statuses)")
            #expect(statuses.filter { $0 == 429 }.count >= 25, "\(statuses)")
            let right = try await server.client.post(
                "/api/auth/login",
                #"{"email":"ada@example.com","password":"\#(password)"}"#
            )
            #expect(right.status == 429)
            #expect(right.header("Retry-After") != nil)
        }
    }

    @Test func aLockoutOutlivesAReload() async throws {
        try await TestServer.run { server in
            try await server.createUser("ada@example.com")
            let wrong = #"{"email":"ada@example.com","password":"wrong"}"#
            for _ in 0..<5 { #expect(try await server.client.post("/api/auth/login", wrong).status == 401) }
            // The config is read again (a new instance of every module): the lock holds.
            try server.writeConfig("apiKeys:\n  maxPerUser: 3\n")
            try await server.host.reload()
            let right = #"{"email":"ada@example.com","password":"\#(password)"}"#
            #expect(try await server.client.post("/api/auth/login", right).status == 429)
        }
    }

    @Test func wrongCurrentPasswordsCountTowardTheSameLockout() async throws {
        try await TestServer.run { server in
            try await server.createUser("ada@example.com")
            let session = try await server.client.login("ada@example.com", password)
            for _ in 0..<5 {
                let reply = try await server.client.put(
                    "/api/users/me",
                    #"{"email":"new@example.com","currentPassword":"wrong"}"#,
                    bearer: session
                )
                #expect(reply.status == 403)
            }
            let sixth = try await server.client.put(
                "/api/users/me",
                #"{"email":"new@example.com","currentPassword":"\#(password)"}"#,
                bearer: session
            )
            #expect(sixth.status == 429)
            let login = try await server.client.post(
                "/api/auth/login",
                #"{"email":"ada@example.com","password":"\#(password)"}"#
            )
            #expect(login.status == 429)
            #expect(try await server.core.store.user(email: "new@example.com") == nil)
        }
    }

    // MARK: 3. Bounded input

    @Test func anOverlongEmailIsRefusedBeforeAnythingIsHashedCountedOrStored() async throws {
        try await TestServer.run { server in
            let email = String(repeating: "a", count: 20_000) + "@example.com"
            let verifications = server.core.passwords.verificationsRun
            let audit = try await server.core.store.auditEvents(userId: nil, limit: 1000).count
            for path in ["/api/auth/login", "/api/auth/password/forgot", "/api/auth/sign-in/email"] {
                let reply = try await server.client.post(path, #"{"email":"\#(email)","password":"x"}"#)
                #expect(reply.status == 400, "\(path) → \(reply.status)")
            }
            #expect(server.core.passwords.verificationsRun == verifications)
            #expect(try await server.core.store.auditEvents(userId: nil, limit: 1000).count == audit)
        }
    }

    @Test func theRateLimiterHoldsABoundedNumberOfKeys() async {
        #expect(InMemoryRateLimits().capacity == 100_000)
        let limits = InMemoryRateLimits(capacity: 1000)
        let now = Date()
        for i in 0..<10_000 {
            _ = await limits.hit("flood:\(i)", window: 60, now: now)
            _ = await limits.hit("hot", window: 60, now: now)
            #expect(limits.keyCount <= 1000)
        }
        // The key in use all along was never the least recently used.
        #expect(await limits.count("hot", now: now) == 10_000)
        // A lockout in force outlives a flood of made-up keys.
        await limits.lock("login:ada@example.com", until: now.addingTimeInterval(900), now: now)
        for i in 0..<10_000 { _ = await limits.hit("flood-2:\(i)", window: 60, now: now) }
        #expect(await limits.lockedUntil("login:ada@example.com", now: now) != nil)
    }

    @Test func auditEventsPastTheirRetentionAreDeleted() async throws {
        try await TestServer.run(environment: ["GATEHOUSE_AUDIT_RETENTION_DAYS": "30"]) { server in
            #expect(server.core.settings.auditRetentionDays == 30)
            let old = AuditEvent(.loginFailed, userId: nil, at: Date().addingTimeInterval(-31 * 86400))
            let recent = AuditEvent(.loginFailed, userId: nil, at: Date().addingTimeInterval(-29 * 86400))
            try await server.core.store.recordAudit(old)
            try await server.core.store.recordAudit(recent)
            // What the hourly sweep calls (its first run, at start, may have got there already).
            #expect(try await server.core.store.deleteAuditEvents(before: Date().addingTimeInterval(-30 * 86400)) <= 1)
            let ids = try await server.core.store.auditEvents(userId: nil, limit: 1000).map(\.id)
            #expect(ids.contains(recent.id) && !ids.contains(old.id))
        }
    }

    // MARK: 4. What ends credentials, and what is mailed

    @Test func suspensionEndsEverySession() async throws {
        try await TestServer.run { server in
            try await server.createUser("admin@example.com", role: .admin)
            let plain = try await server.createUser("plain@example.com")
            let admin = try await server.client.login("admin@example.com", password)
            let token = try await server.client.login("plain@example.com", password)
            #expect(
                try await server.client.put("/api/users/\(plain.id)", #"{"suspended":true}"#, bearer: admin).status
                    == 200
            )
            #expect(try await server.client.get("/api/users/me", bearer: token).status == 401)
            #expect(
                try await server.client.put("/api/users/\(plain.id)", #"{"suspended":false}"#, bearer: admin).status
                    == 200
            )
            #expect(try await server.client.get("/api/users/me", bearer: token).status == 401)
            #expect(try await server.core.sessions.list(userId: plain.id).isEmpty)
        }
    }

    @Test func newKeysAndChangedEmailsAreMailedToTheOwner() async throws {
        // Nothing listens on port 1: the mails stay queued, their text readable.
        try await TestServer.run(yaml: smtpYAML(port: 1)) { server in
            try await server.createUser("ada@example.com")
            let session = try await server.client.login("ada@example.com", password)

            #expect(
                try await server.client.post("/api/apikeys", #"{"name":"deploy bot"}"#, bearer: session).status == 201
            )
            let keyMail = try #require(try await mails(server, to: "ada@example.com").last)
            #expect(keyMail.subject.contains("API key"))
            #expect(keyMail.text.contains("deploy bot") && keyMail.text.contains("gk_"))

            let (publicKey, _) = try SSHKeygen.generate(type: "ed25519")
            let added = try await server.client.post(
                "/api/ssh-keys",
                json([("name", #""laptop""#), ("publicKey", #""\#(publicKey)""#)]),
                bearer: session
            )
            #expect(added.status == 201)
            let sshMail = try #require(try await mails(server, to: "ada@example.com").last)
            #expect(sshMail.subject.contains("SSH key"))
            let fingerprint = try SSHKeygen.fingerprint(of: publicKey)
            #expect(sshMail.text.contains("laptop") && sshMail.text.contains(fingerprint))

            let moved = try await server.client.put(
                "/api/users/me",
                #"{"email":"newaddress@example.org","currentPassword":"\#(password)"}"#,
                bearer: session
            )
            #expect(moved.status == 200)
            let notice = try #require(try await mails(server, to: "ada@example.com").last)
            #expect(notice.subject.contains("email address"))
            #expect(notice.text.contains("n•••@example.org"))
            #expect(!notice.text.contains("newaddress@"))
        }
    }

    @Test func turningTwoFactorOffIsMailedAndTurningItOnAsksForThePassword() async throws {
        try await TestServer.run(yaml: smtpYAML(port: 1)) { server in
            try await server.createUser("ada@example.com")
            let session = try await server.client.login("ada@example.com", password)
            let setup = try await server.client.post("/api/auth/2fa/setup", bearer: session)
            let secret = try #require(setup.json?["secret"]?.stringValue)
            let code = try Oathtool.totp(secret: secret, at: Date())
            let missing = try await server.client.post("/api/auth/2fa/enable", #"{"code":"\#(code)"}"#, bearer: session)
            #expect(missing.status == 400)
            let wrong = try await server.client.post(
                "/api/auth/2fa/enable",
                #"{"code":"\#(code)","password":"wrong"}"#,
                bearer: session
            )
            #expect(wrong.status == 403)
            #expect(wrong.error == "Current password is incorrect")

            let (_, codes, _) = try await enableTwoFactor(server, session: session)
            let off = try await server.client.post(
                "/api/auth/2fa/disable",
                #"{"password":"\#(password)","code":"\#(codes[0])"}"#,
                bearer: session
            )
            #expect(off.status == 200)
            let notice = try #require(try await mails(server, to: "ada@example.com").last)
            #expect(notice.subject.contains("Two-factor authentication was turned off"))
        }
    }

    @Test func aRecoveryResetDeletesTheAccountsAPIKeysAndSaysSo() async throws {
        try await TestServer.run(yaml: smtpYAML(port: 1)) { server in
            try await server.createUser("ada@example.com")
            let session = try await server.client.login("ada@example.com", password)
            let key = try #require(
                try await server.client.post("/api/apikeys", #"{"name":"k"}"#, bearer: session).json?["key"]?
                    .stringValue
            )
            #expect(
                try await server.client.post("/api/auth/password/forgot", #"{"email":"ada@example.com"}"#).status == 200
            )
            let resetMail = try #require(try await mails(server, to: "ada@example.com").last)
            let token = String(
                try #require(
                    resetMail.text.components(separatedBy: "reset-password?token=").last?.prefix { !$0.isWhitespace }
                )
            )
            let reset = try await server.client.post(
                "/api/auth/password/reset",
                #"{"token":"\#(token)","password":"N3w!passw0rd"}"#
            )
            #expect(reset.status == 200)
            #expect(try await server.client.get("/api/users/me", bearer: key).status == 401)
            let notice = try #require(try await mails(server, to: "ada@example.com").last)
            #expect(notice.text.contains("every API key and passkey of the account was deleted"))
        }
    }

    // MARK: 5. Mail on demand

    @Test func resetMailsAreThrottledWithoutTellingTheCaller() async throws {
        try await TestServer.run { server in
            try await server.createUser("ada@example.com")
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<12 {
                    group.addTask {
                        try await server.client.post("/api/auth/password/forgot", #"{"email":"ada@example.com"}"#)
                            .status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses == Array(repeating: 200, count: 12))
            #expect(try await mails(server, to: "ada@example.com").count == 3)
            // A request for an unknown address leaves the same trace (one audit row), sends nothing.
            #expect(
                try await server.client.post("/api/auth/password/forgot", #"{"email":"nobody@example.com"}"#).status
                    == 200
            )
            let events = try await server.core.store.auditEvents(userId: nil, limit: 100)
            #expect(
                events.contains { $0.kind == .passwordResetRequested && $0.detail["email"] == "nobody@example.com" }
            )
            #expect(try await mails(server, to: "nobody@example.com").isEmpty)
        }
    }

    @Test func verificationMailsAreThrottledWithRetryAfter() async throws {
        try await TestServer.run { server in
            _ = try await server.core.accounts.create(
                NewUser(email: "ada@example.com", password: password, firstName: "Ada", lastName: "L")
            )
            let session = try await server.client.login("ada@example.com", password)
            for _ in 0..<3 {
                #expect(try await server.client.post("/api/auth/verify-email/resend", bearer: session).status == 200)
            }
            let fourth = try await server.client.post("/api/auth/verify-email/resend", bearer: session)
            #expect(fourth.status == 429)
            #expect(Int(fourth.header("Retry-After") ?? "") ?? 0 > 0)
            #expect(try await mails(server, to: "ada@example.com").count == 3)
        }
    }

    // MARK: 6. Cross-site requests

    @Test func cookieAuthenticatedWritesMustBeJSONFromAnAllowedOrigin() async throws {
        try await TestServer.run { server in
            let ada = try await server.createUser("ada@example.com")
            let token = try await server.client.login("ada@example.com", password)
            let cookie = ("Cookie", "gatehouse_session=\(token)")
            /// A new API key asked for with `headers`.
            func createKey(_ headers: [(String, String)]) async throws -> TestClient.Reply {
                try await server.client.request("POST", "/api/apikeys", body: #"{"name":"k"}"#, headers: headers)
            }
            let plain = try await createKey([
                cookie, ("Content-Type", "text/plain"), ("Origin", "https://evil.example"),
            ])
            #expect(plain.status == 415)
            let evil = try await createKey([cookie, ("Origin", "https://evil.example")])
            #expect(evil.status == 403)
            #expect(evil.error == "Cross-site request refused")
            let crossSite = try await createKey([cookie, ("Sec-Fetch-Site", "cross-site")])
            #expect(crossSite.status == 403)
            #expect(try await server.core.store.apiKeys(userId: ada.id).isEmpty)

            // The panel's own origin (mail.panelURL's), and Bearer requests from anywhere, pass.
            let panel = try await createKey([cookie, ("Origin", "http://localhost:3000")])
            #expect(panel.status == 201)
            let bearer = try await createKey([("Authorization", "Bearer \(token)"), ("Origin", "https://evil.example")])
            #expect(bearer.status == 201)
            // A page elsewhere cannot sign a visitor in either (login CSRF).
            let login = #"{"email":"ada@example.com","password":"\#(password)"}"#
            let foreign = try await server.client.request(
                "POST",
                "/api/auth/login",
                body: login,
                headers: [("Origin", "https://evil.example")]
            )
            #expect(foreign.status == 403)
            #expect(try await server.client.post("/api/auth/login", login).status == 200)
            // A body-less logout with the cookie keeps working.
            let logout = try await server.client.request("POST", "/api/sessions/logout", headers: [cookie])
            #expect(logout.status == 200)
        }
    }

    // MARK: 7. Open redirects

    @Test func betterAuthCallbackURLsStayOnThePanel() async throws {
        try await TestServer.run { server in
            try await server.createUser("ada@example.com")
            func signIn(_ callbackURL: String) async throws -> TestClient.Reply {
                try await server.client.post(
                    "/api/auth/sign-in/email",
                    #"{"email":"ada@example.com","password":"\#(password)","callbackURL":"\#(callbackURL)"}"#
                )
            }
            for url in ["https://evil.example/x", "//evil.example/x", "/\\\\evil.example", "javascript:alert(1)"] {
                let reply = try await signIn(url)
                #expect(reply.status == 403, "\(url) → \(reply)")
                #expect(reply.body == #"{"code":"INVALID_CALLBACK_URL","message":"Invalid callbackURL"}"#)
            }
            for url in ["/dashboard", "/servers?tab=files", "http://localhost:3000/account"] {
                let reply = try await signIn(url)
                #expect(reply.status == 200, "\(url) → \(reply)")
                #expect(reply.json?["url"]?.stringValue == url)
            }
        }
    }

    // MARK: 8. Files at rest

    @Test func theDatabaseAndItsFolderAreTheServiceUsersAlone() async throws {
        try await TestServer.run { server in
            try await server.createUser("ada@example.com")
            let data = server.directory.appendingPathComponent("data")
            func mode(_ url: URL) throws -> Int {
                try #require(try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int)
                    & 0o777
            }
            #expect(try mode(data) == 0o700)
            for file in ["gatehouse.sqlite", "gatehouse.sqlite-wal", "gatehouse.sqlite-shm", "gatehouse.sqlite.key"] {
                #expect(try mode(data.appendingPathComponent(file)) == 0o600, "\(file)")
            }
        }
    }

    // MARK: 9. Slow and idle clients

    @Test func stalledHalfRequestsAreClosedWhileHealthAnswers() async throws {
        RawConnection.raiseFileLimit()
        try await TestServer.run(environment: ["GATEHOUSE_SERVER_READ_TIMEOUT": "3"]) { server in
            var stalled: [RawConnection] = []
            for _ in 0..<1500 {
                let connection = try RawConnection(port: server.port)
                try connection.send("GET /hea")
                stalled.append(connection)
            }
            let opened = Date()
            #expect(try await server.client.get("/health").status == 200)
            // One stalled now is held its full 3 s (not closed at once), then closed.
            let fresh = try RawConnection(port: server.port)
            try fresh.send("GET /hea")
            #expect(await !fresh.isClosed(within: 1))
            #expect(await fresh.isClosed(within: 30))
            // Every one closed by its read timeout (3 s, timed by `fresh` above). A connection's
            // clock starts when the server has accepted it and read its bytes, which on a loaded
            // machine (the suites run in parallel) can be many seconds after the kernel completed
            // the connect: hence the minute. The server's own count says the same from its side.
            var closed = 0
            var lost = 0
            for connection in stalled {
                if await connection.isClosed(within: max(0, 60 - Date().timeIntervalSince(opened))) {
                    closed += 1
                } else if !connection.ownsItsSocket {
                    // Closed under us by another part of the test process, its number reused.
                    lost += 1
                }
            }
            // The server counts a connection closed a moment after the client sees it closed.
            #expect(try await eventually { server.host.connectionLimits.openConnections == 0 })
            let limits = server.host.connectionLimits
            #expect(
                closed + lost == 1500 && limits.openConnections == 0,
                "\(closed) seen closed, \(lost) descriptors taken over; server: \(limits.openConnections) open"
            )
            if lost > 0 { print("stalled connections: \(lost) descriptors were closed and reused elsewhere") }
            #expect(try await server.client.get("/health").status == 200)
        }
    }

    @Test func idleKeptAliveConnectionsAreClosed() async throws {
        try await TestServer.run(environment: ["GATEHOUSE_SERVER_IDLE_TIMEOUT": "1"]) { server in
            let connection = try RawConnection(port: server.port)
            try connection.send("GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            // Without the setting (60 s) it would still be open; a loaded run may take a while.
            #expect(await connection.isClosed(within: 30))
        }
    }

    @Test func connectionsAboveTheCapAreClosedAsTheyArrive() async throws {
        try await TestServer.run(environment: ["GATEHOUSE_SERVER_MAX_CONNECTIONS": "10"]) { server in
            var held: [RawConnection] = []
            for _ in 0..<15 { held.append(try RawConnection(port: server.port)) }
            func closedCount() async -> Int {
                var closed = 0
                for connection in held where await connection.isClosed() { closed += 1 }
                return closed
            }
            // A loaded run may accept (and close) the surplus late: wait for it, then check that
            // no more than the surplus went.
            #expect(try await eventually(every: .milliseconds(100)) { await closedCount() >= 5 })
            try await Task.sleep(for: .milliseconds(300))
            #expect(await closedCount() == 5)
            held.removeAll()
            // Room again once the server has counted the ten closed.
            #expect(try await eventually { server.host.connectionLimits.openConnections == 0 })
            #expect(try await server.client.get("/health").status == 200)
        }
    }
}
