import Foundation
import GatehouseCore
import TestSupport
import Testing

@testable import GatehouseHost

/// `routes.operations`: the audit trail and the outbox, as admins read them over HTTP.
@Suite(.serialized) struct OperationsTests {
    @Test func theAuditTrailPagesNewestFirstWithFilters() async throws {
        try await TestServer.run { server in
            let admin = try await server.createUser("admin@example.com", role: .admin)
            let ada = try await server.createUser("ada@example.com")
            let adminToken = try await server.client.login("admin@example.com", TestServer.password)
            for _ in 0..<3 {
                let wrong = try await server.client.post(
                    "/api/auth/login",
                    #"{"email":"ada@example.com","password":"Wr0ng!password"}"#
                )
                #expect(wrong.status == 401)
            }
            _ = try await server.client.login("ada@example.com", TestServer.password)

            let first = try await server.client.get("/api/admin/audit?limit=2", bearer: adminToken)
            #expect(first.status == 200, "\(first)")
            let events = try #require(first.json?["events"]?.arrayValue)
            #expect(events.count == 2)
            #expect(events[0]["kind"] == "login.succeeded" && events[0]["userId"]?.stringValue == ada.id)
            #expect(events[0].objectKeys == ["actorId", "createdAt", "detail", "id", "ip", "kind", "userId"])
            let next = try #require(first.json?["next"]?.stringValue)
            #expect(next == events[1]["id"]?.stringValue)
            let second = try await server.client.get("/api/admin/audit?limit=200&before=\(next)", bearer: adminToken)
            let older = try #require(second.json?["events"]?.arrayValue)
            #expect(!older.isEmpty && second.json?["next"] == .null)
            let olderIds = Set(older.compactMap { $0["id"]?.stringValue })
            let firstIds = events.compactMap { $0["id"]?.stringValue }
            #expect(olderIds.isDisjoint(with: firstIds))

            let failed = try await server.client.get(
                "/api/admin/audit?kind=login.failed&userId=\(ada.id)",
                bearer: adminToken
            )
            let failures = try #require(failed.json?["events"]?.arrayValue)
            #expect(failures.count == 3 && failures.allSatisfy { $0["kind"] == "login.failed" })
            #expect(!failed.body.contains("Wr0ng"))
            let byActor = try await server.client.get("/api/admin/audit?actorId=\(admin.id)", bearer: adminToken)
            #expect(byActor.json?["events"]?.arrayValue?.isEmpty == true)

            for bad in ["limit=0", "limit=201", "limit=x", "kind=nope"] {
                #expect(
                    try await server.client.get("/api/admin/audit?\(bad)", bearer: adminToken).status == 400,
                    "\(bad)"
                )
            }
            let userToken = try await server.client.login("ada@example.com", TestServer.password)
            #expect(try await server.client.get("/api/admin/audit", bearer: userToken).status == 403)
            #expect(try await server.client.get("/api/admin/audit").status == 401)
        }
    }

    @Test func theOutboxShowsNoBodiesAndRetriesFailedMail() async throws {
        try await TestServer.run { server in
            try await server.createUser("root@example.com", role: .rootAdmin)
            try await server.createUser("admin@example.com", role: .admin)
            let rootToken = try await server.client.login("root@example.com", TestServer.password)
            let adminToken = try await server.client.login("admin@example.com", TestServer.password)
            let registered = try await server.client.post(
                "/api/users/register",
                #"{"email":"newbie@example.com","password":"Str0ng!pass","firstName":"New","lastName":"Bie"}"#
            )
            #expect(registered.status == 201, "\(registered)")
            var failed = OutboxMail(
                message: MailMessage(to: "lost@example.com", subject: "s", text: "secret body", html: "<p>x</p>"),
                now: Date(),
                template: "password-reset"
            )
            failed.status = .failed
            failed.attempts = 8
            failed.lastError = "550 mailbox unavailable"
            try await server.core.store.enqueueMail(failed)

            let asAdmin = try await server.client.get("/api/admin/mail/outbox", bearer: adminToken)
            #expect(asAdmin.status == 200, "\(asAdmin)")
            let mails = try #require(asAdmin.json?["mails"]?.arrayValue)
            #expect(mails.first?["id"]?.stringValue == failed.id)
            #expect(
                mails.first?.objectKeys == [
                    "attempts", "createdAt", "id", "lastError", "nextAttemptAt", "status", "template", "to",
                ]
            )
            #expect(mails.first?["to"] == "l•••@example.com")
            #expect(mails.contains { $0["template"] == "verify-email" && $0["to"] == "n•••@example.com" })
            #expect(!asAdmin.body.contains("secret body") && !asAdmin.body.contains("token"))
            let asRoot = try await server.client.get("/api/admin/mail/outbox?status=failed", bearer: rootToken)
            #expect(asRoot.json?["mails"]?.arrayValue?.map { $0["to"] } == ["lost@example.com"])
            #expect(try await server.client.get("/api/admin/mail/outbox?status=lost", bearer: rootToken).status == 400)

            let retried = try await server.client.post("/api/admin/mail/outbox/\(failed.id)/retry", bearer: adminToken)
            #expect(retried.status == 200, "\(retried)")
            #expect(retried.json?["id"]?.stringValue == failed.id)
            #expect(try await server.core.store.outboxMail(id: failed.id)?.status != .failed)
            let again = try await server.client.post("/api/admin/mail/outbox/\(failed.id)/retry", bearer: adminToken)
            #expect(again.status == 409 || again.status == 200, "\(again)")
            #expect(try await server.client.post("/api/admin/mail/outbox/nope/retry", bearer: adminToken).status == 404)
            let audit = try await server.core.store.auditEvents(AuditQuery(kind: .mailRetried))
            #expect(audit.count == 1 && audit.first?.detail["mailId"] == .string(failed.id))

            let userToken = try await server.client.login("newbie@example.com", "Str0ng!pass")
            #expect(try await server.client.get("/api/admin/mail/outbox", bearer: userToken).status == 403)
        }
    }
}
