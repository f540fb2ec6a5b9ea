import Foundation
import GatehouseCore
import TestSupport
import Testing

@testable import GatehouseHost

/// A server with an admin signed in for the length of `body`, which gets the server and the
/// admin's token; shut down (and waited for) when `body` returns or throws.
func withAdmin(
    yaml: String = "",
    environment: [String: String] = [:],
    _ body: (TestServer, String) async throws -> Void
) async throws {
    try await TestServer.run(yaml: yaml, environment: environment) { server in
        try await server.createUser("admin@example.com", role: .admin)
        try await body(server, try await server.client.login("admin@example.com", TestServer.password))
    }
}

/// POST /api/account/admin/email/test `{email}` as `bearer`.
func sendTestMail(_ server: TestServer, to email: String, bearer: String) async throws -> TestClient.Reply {
    try await server.client.post("/api/account/admin/email/test", #"{"email":"\#(email)"}"#, bearer: bearer)
}

func smtpYAML(port: Int, extra: String = "") -> String {
    """
    mail:
      provider: smtp
      from: "Gatehouse Ops <ops@example.test>"
      smtp:
        host: 127.0.0.1
        port: \(port)
        security: none
        timeout: 60
    \(extra)
    """
}

@Suite(.serialized) struct AdminEmailTests {
    @Test func onlyAdminsReachTheEmailRoutes() async throws {
        try await withAdmin { server, admin in
            try await server.createUser("user@example.com")
            let user = try await server.client.login("user@example.com", TestServer.password)
            for (method, path) in [
                ("GET", "/api/account/admin/email/status"), ("POST", "/api/account/admin/email/test"),
            ] {
                let anonymous = try await server.client.request(method, path, body: method == "POST" ? "{}" : nil)
                #expect(anonymous.status == 401)
                #expect(anonymous.body == #"{"error":"Unauthorized"}"#)
                let plain = try await server.client.request(
                    method,
                    path,
                    body: method == "POST" ? "{}" : nil,
                    bearer: user
                )
                #expect(plain.status == 403)
                #expect(plain.body == #"{"error":"Forbidden: Admin access required"}"#)
            }
            let status = try await server.client.get("/api/account/admin/email/status", bearer: admin)
            #expect(status.status == 200)
            #expect(status.body == #"{"provider":"log","configured":true,"details":{"from":"gatehouse@localhost"}}"#)
        }
    }

    @Test func statusShowsSettingsButNoSecrets() async throws {
        try await withAdmin(
            yaml: smtpYAML(port: 2525),
            environment: ["GATEHOUSE_MAIL_SMTP_USER": "mailer", "GATEHOUSE_MAIL_SMTP_PASSWORD": "hunter2-secret"]
        ) { server, admin in
            let status = try await server.client.get("/api/account/admin/email/status", bearer: admin)
            #expect(
                status.body
                    == #"{"provider":"smtp","configured":true,"details":{"host":"127.0.0.1","port":2525,"security":"none","user":"mailer","from":"Gatehouse Ops <ops@example.test>"}}"#
            )
            #expect(!status.body.contains("hunter2"))

            // A provider without its settings: configured false, and a test send says why.
            try await withAdmin(yaml: "mail:\n  provider: resend\n") { bare, bareAdmin in
                let bareStatus = try await bare.client.get("/api/account/admin/email/status", bearer: bareAdmin)
                #expect(
                    bareStatus.body
                        == #"{"provider":"resend","configured":false,"details":{"baseURL":"https://api.resend.com","from":"gatehouse@localhost"}}"#
                )
                let send = try await sendTestMail(bare, to: "a@example.test", bearer: bareAdmin)
                #expect(send.status == 502)
                #expect(send.body == #"{"success":false,"error":"the resend provider is not configured"}"#)
            }
        }
    }

    @Test(arguments: [
        ("{}", "Email address required"),
        (#"{"email":null}"#, "Email address required"),
        (#"{"email":"  "}"#, "Email address required"),
        (#"{"email":"not-an-address"}"#, "Invalid email format"),
        (#"{"email":"a@b"}"#, "Invalid email format"),
        (#"{"email":42}"#, "Invalid email format"),
        (#"{"email":["a@example.test"]}"#, "Invalid email format"),
    ])
    func badAddressesAreRefused(body: String, message: String) async throws {
        try await withAdmin { server, admin in
            let reply = try await server.client.post("/api/account/admin/email/test", body, bearer: admin)
            #expect(reply.status == 400)
            #expect(reply.body == #"{"error":"\#(message)"}"#)
        }
    }

    @Test func theTestMailArrivesWellFormedOverSMTP() async throws {
        let smtp = try await SMTPServer()
        defer { smtp.stop() }
        try await withAdmin(
            yaml: smtpYAML(port: smtp.port, extra: "  testSubject: \"Gatehouse Test ✓ Grüße\"")
        ) { server, admin in
            let reply = try await sendTestMail(server, to: "ada@example.test", bearer: admin)
            #expect(reply.status == 200)
            let messageId = try #require(reply.json?["messageId"]?.stringValue)
            #expect(reply.body == #"{"success":true,"messageId":"\#(messageId)"}"#)

            // Delivered before the reply: it is there already.
            let received = try smtp.messages()
            #expect(received.count == 1)
            let mail = ParsedMail(received[0].raw)
            #expect(received[0].envelopeFrom == "ops@example.test")
            #expect(received[0].envelopeTo == ["ada@example.test"])
            #expect(mail.header("Message-ID") == "<\(messageId)>")
            #expect(messageId.hasSuffix("@example.test"))
            #expect(mail.header("From") == "Gatehouse Ops <ops@example.test>")
            #expect(mail.header("To") == "ada@example.test")
            #expect(mail.header("Subject") == "Gatehouse Test ✓ Grüße")
            #expect(mail.header("Date") != nil)
            #expect(mail.header("Content-Type")?.hasPrefix("multipart/alternative; boundary=") == true)
            #expect(mail.parts.map(\.0) == ["text/plain; charset=utf-8", "text/html; charset=utf-8"])
            #expect(mail.parts[0].1.contains("This is a test email from Gatehouse."))
            #expect(mail.parts[1].1.contains("<strong>Gatehouse</strong>"))
        }
    }

    @Test func authenticatedSTARTTLS() async throws {
        let certificate = try TestCertificate()
        let smtp = try await SMTPServer(.init(auth: ("mailer", "p4ss-word"), tls: (certificate.cert, certificate.key)))
        defer { smtp.stop() }
        let yaml = """
            mail:
              provider: smtp
              from: ops@example.test
              smtp:
                host: 127.0.0.1
                port: \(smtp.port)
                security: starttls
                user: mailer
                caFile: \(certificate.cert)
            """
        try await withAdmin(yaml: yaml, environment: ["SMTP_PASS": "p4ss-word"]) { server, admin in
            let reply = try await sendTestMail(server, to: "ada@example.test", bearer: admin)
            #expect(reply.status == 200, "\(reply)")
            #expect(try smtp.messages().first?.authenticatedAs == "mailer")

            // A wrong password: the provider's reason, never the password.
            try server.writeConfig(yaml)
            try await withAdmin(yaml: yaml, environment: ["SMTP_PASS": "not-the-password"]) { wrong, wrongAdmin in
                let refused = try await sendTestMail(wrong, to: "ada@example.test", bearer: wrongAdmin)
                #expect(refused.status == 502)
                #expect(refused.json?["success"] == .bool(false))
                #expect(refused.error?.isEmpty == false)
                #expect(!refused.body.contains("not-the-password"))
            }
        }
    }

    @Test func aServerThatIsDownGivesTheConfiguredFailureStatus() async throws {
        try await withAdmin(yaml: smtpYAML(port: 1)) { server, admin in
            let reply = try await sendTestMail(server, to: "ada@example.test", bearer: admin)
            #expect(reply.status == 502)
            #expect(reply.json?["success"] == .bool(false))
            #expect(reply.error?.contains("connect") == true)

            try await withAdmin(
                yaml: smtpYAML(port: 1, extra: "  testFailureStatus: 500")
            ) { strict, strictAdmin in
                let seedStyle = try await sendTestMail(strict, to: "ada@example.test", bearer: strictAdmin)
                #expect(seedStyle.status == 500)
                #expect(seedStyle.json?["success"] == .bool(false))
            }
        }
    }

    @Test func resendIsCalledAsItsAPIDocuments() async throws {
        try await ProviderStandIn.run(replies: [
            .init(status: 200, body: #"{"id":"49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"}"#)
        ]) { standIn in
            try await withAdmin(
                yaml:
                    "mail:\n  provider: resend\n  from: \"Gatehouse <noreply@example.test>\"\n  resend:\n    baseURL: \(standIn.baseURL)/\n",
                environment: ["RESEND_API_KEY": "re_test_123"]
            ) { server, admin in
                let reply = try await sendTestMail(server, to: "ada@example.test", bearer: admin)
                #expect(reply.body == #"{"success":true,"messageId":"49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"}"#)
                let request = try #require(standIn.requests.first)
                #expect(standIn.requests.count == 1)
                #expect(request.method == "POST")
                #expect(request.path == "/emails")
                #expect(request.headers["Authorization"] == "Bearer re_test_123")
                #expect(request.headers["Content-Type"] == "application/json")
                let body = try #require(try? JSONDecoder().decode(JSONValue.self, from: Data(request.body.utf8)))
                #expect(body["from"] == "Gatehouse <noreply@example.test>")
                #expect(body["to"] == .array(["ada@example.test"]))
                #expect(body["subject"] == "Gatehouse Email Test")
                #expect(body["text"]?.stringValue?.contains("This is a test email from Gatehouse.") == true)
                #expect(body["html"]?.stringValue?.contains("<strong>Gatehouse</strong>") == true)
            }
        }
    }

    @Test func resendRefusalsCarryItsReasonAndNoKey() async throws {
        try await ProviderStandIn.run(replies: [
            .init(
                status: 403,
                body: #"{"statusCode":403,"message":"The re_bad_key API key is invalid","name":"invalid_api_key"}"#
            )
        ]) { standIn in
            try await withAdmin(
                yaml: "mail:\n  provider: resend\n  resend:\n    baseURL: \(standIn.baseURL)\n",
                environment: ["GATEHOUSE_MAIL_RESEND_API_KEY": "re_bad_key"]
            ) { server, admin in
                let reply = try await sendTestMail(server, to: "ada@example.test", bearer: admin)
                #expect(reply.status == 502)
                #expect(
                    reply.body == #"{"success":false,"error":"Resend answered 403: The [redacted] API key is invalid"}"#
                )
            }
        }
    }

    @Test func sendGridIsCalledAsItsAPIDocuments() async throws {
        try await ProviderStandIn.run(replies: [
            .init(status: 202, headers: [("X-Message-Id", "W86EgYT6SQKk0lRflfLRsA")], body: "")
        ]) { standIn in
            try await withAdmin(
                yaml:
                    "mail:\n  provider: sendgrid\n  from: \"Gatehouse <noreply@example.test>\"\n  sendgrid:\n    baseURL: \(standIn.baseURL)\n",
                environment: ["SENDGRID_API_KEY": "SG.test-key"]
            ) { server, admin in
                let reply = try await sendTestMail(server, to: "ada@example.test", bearer: admin)
                #expect(reply.body == #"{"success":true,"messageId":"W86EgYT6SQKk0lRflfLRsA"}"#)
                let request = try #require(standIn.requests.first)
                #expect(request.method == "POST")
                #expect(request.path == "/v3/mail/send")
                #expect(request.headers["Authorization"] == "Bearer SG.test-key")
                let body = try #require(try? JSONDecoder().decode(JSONValue.self, from: Data(request.body.utf8)))
                #expect(
                    body["personalizations"]
                        == .array([.object([("to", .array([.object([("email", "ada@example.test")])]))])])
                )
                #expect(body["from"] == .object([("email", "noreply@example.test"), ("name", "Gatehouse")]))
                #expect(body["subject"] == "Gatehouse Email Test")
                guard case .array(let content)? = body["content"], content.count == 2 else {
                    Issue.record("content: \(String(describing: body["content"]))")
                    return
                }
                #expect(content[0]["type"] == "text/plain")
                #expect(content[1]["type"] == "text/html")
            }
        }
    }

    @Test func sighupSwitchesTheProvider() async throws {
        let smtp = try await SMTPServer()
        defer { smtp.stop() }
        try await withAdmin { server, admin in
            #expect(
                try await server.client.get("/api/account/admin/email/status", bearer: admin).json?["provider"] == "log"
            )
            try server.writeConfig(smtpYAML(port: smtp.port))
            try await server.host.reload()
            #expect(
                try await server.client.get("/api/account/admin/email/status", bearer: admin).json?["provider"]
                    == "smtp"
            )
            let reply = try await sendTestMail(server, to: "ada@example.test", bearer: admin)
            #expect(reply.status == 200)
            #expect(try smtp.messages().count == 1)
        }
    }
}

@Suite(.serialized) struct OutboxTests {
    func waitFor(_ server: TestServer, id: String, status: OutboxMail.Status) async throws -> OutboxMail {
        var mail: OutboxMail?
        if try await eventually({
            mail = try await server.core.store.outboxMail(id: id)
            return mail?.status == status
        }), let mail {
            return mail
        }
        throw TestFailure(
            "mail \(id) did not reach \(status): \(String(describing: try await server.core.store.outboxMail(id: id)))"
        )
    }

    func queue(_ server: TestServer, to: String = "ada@example.test") async throws -> String {
        let mail = OutboxMail(
            message: MailMessage(to: to, subject: "Queued", text: "text", html: "<p>html</p>"),
            now: Date()
        )
        try await server.core.store.enqueueMail(mail)
        server.core.outboxNudge.signal()
        return mail.id
    }

    @Test func mailWaitsWhileTheServerIsDownAndIsDeliveredOnceItIsBack() async throws {
        // Learn a free port, then leave it closed.
        let probe = try await SMTPServer()
        let port = probe.port
        probe.stop()
        try await withAdmin(
            yaml: smtpYAML(port: port, extra: "  outbox:\n    retryDelay: 1\n    maxDelay: 1\n")
        ) { server, _ in
            let id = try await queue(server)
            // It fails, is recorded, and waits. (A loaded test run can be slow to the second attempt.)
            var latest: OutboxMail?
            try await eventually {
                latest = try await server.core.store.outboxMail(id: id)
                return latest.map { $0.attempts >= 2 && $0.status == .pending } ?? false
            }
            let waiting = try #require(latest)
            #expect(waiting.status == .pending)
            #expect(waiting.attempts >= 2)
            #expect(waiting.lastError?.contains("connect") == true)

            let smtp = try await SMTPServer(.init(port: port))
            defer { smtp.stop() }
            let sent = try await waitFor(server, id: id, status: .sent)
            #expect(sent.messageId != nil)
            try await Task.sleep(for: .seconds(1.5))
            let received = try smtp.messages()
            #expect(received.count == 1)
            #expect(ParsedMail(received[0].raw).header("Message-ID") == "<\(sent.messageId!)>")
        }
    }

    @Test func serverErrorsAreRetriedAndClientErrorsAreNot() async throws {
        try await ProviderStandIn.run(replies: [
            .init(status: 503, body: #"{"message":"busy"}"#),
            .init(status: 200, body: #"{"id":"after-retry"}"#),
        ]) { standIn in
            try await withAdmin(
                yaml:
                    "mail:\n  provider: resend\n  outbox:\n    retryDelay: 1\n  resend:\n    baseURL: \(standIn.baseURL)\n",
                environment: ["RESEND_API_KEY": "re_key"]
            ) { server, _ in
                let retried = try await waitFor(server, id: try await queue(server), status: .sent)
                #expect(retried.attempts == 2)
                #expect(retried.messageId == "after-retry")

                try await ProviderStandIn.run(replies: [
                    .init(
                        status: 422,
                        body: #"{"statusCode":422,"message":"Invalid `to` field.","name":"validation_error"}"#
                    )
                ]) { refusing in
                    try server.writeConfig("mail:\n  provider: resend\n  resend:\n    baseURL: \(refusing.baseURL)\n")
                    try await server.host.reload()
                    let failed = try await waitFor(server, id: try await queue(server), status: .failed)
                    #expect(failed.attempts == 1)
                    #expect(failed.lastError == "Resend answered 422: Invalid `to` field.")
                    try await Task.sleep(for: .seconds(1.5))
                    #expect(refusing.requests.count == 1)
                }
            }
        }
    }
}
