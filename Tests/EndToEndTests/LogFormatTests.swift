import Foundation
import GatehouseCore
import TestSupport
import Testing

/// `log.format: json` from the executable: every line an object a collector can parse, each
/// request with its fields, and no secret anywhere in a whole session's log.
@Suite struct LogFormatTests {
    @Test func jsonLogsCarryTheRequestsFieldsAndNoSecret() async throws {
        let smtp = try await SMTPServer()
        defer { smtp.stop() }
        let dir = try Paths.temporaryDirectory("e2e-json-log")
        let environment = [
            "GATEHOUSE_DATABASE_PATH": dir.appendingPathComponent("gatehouse.sqlite").path,
            "GATEHOUSE_SERVER_HOST": "127.0.0.1", "GATEHOUSE_SERVER_PORT": "0", "GATEHOUSE_LOG_FORMAT": "json",
            "EMAIL_PROVIDER": "smtp", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": String(smtp.port),
            "SMTP_SECURE": "false", "GATEHOUSE_MAIL_SMTP_SECURITY": "none",
        ]
        let config = Paths.root.appendingPathComponent("etc/gatehouse.yaml").path
        let server = try ChildProcess(Paths.gatehouse.path, ["serve", "--config", config], environment: environment)
        defer { server.stop() }
        let listening = try await server.waitForLine(containing: "listening on 127.0.0.1:")
        let message = try #require(
            try JSONDecoder().decode(JSONValue.self, from: Data(listening.utf8))["message"]?.stringValue
        )
        let client = TestClient(port: try #require(Int(message.split(separator: ":").last ?? "")))

        // A session's worth of secrets: a password, a session token, an API key, the codes and
        // links mailed for verification and a reset (one in a path), a mail body.
        let password = "Str0ng!pass-phrase"
        let registered = try await client.post(
            "/api/users/register",
            #"{"email":"ada@example.com","password":"\#(password)","firstName":"Ada","lastName":"L"}"#
        )
        #expect(registered.status == 201)
        let token = try await client.login("ada@example.com", password)
        let key = try #require(
            try await client.post("/api/apikeys", #"{"name":"ci"}"#, bearer: token).json?["key"]?.stringValue
        )
        #expect(try await client.get("/api/users/me", bearer: key).status == 200)
        #expect(try await client.post("/api/auth/forget-password", #"{"email":"ada@example.com"}"#).status == 200)
        let mails = try await smtp.waitForMessages(3)
        let bodies = mails.map { mail in ParsedMail(mail.raw).parts.first { $0.0.hasPrefix("text/plain") }?.1 ?? "" }
        let secrets = bodies.flatMap { body in
            body.matches(of: /token=([A-Za-z0-9_-]{20,})/).map { String($0.1) }
                + body.matches(of: /\b(\d{6})\b/).map { String($0.1) }
        }
        #expect(secrets.count >= 3)
        let resetToken = try #require(bodies.last?.firstMatch(of: /token=([A-Za-z0-9_-]{20,})/)?.1)
        #expect(try await client.get("/api/auth/reset-password/\(resetToken)?callbackURL=/reset").status == 302)

        server.signal(SIGTERM)
        #expect(try await server.wait() == 0)

        var requests: [JSONValue] = []
        for line in server.lines where !line.isEmpty {
            let object = try JSONDecoder().decode(JSONValue.self, from: Data(line.utf8))
            #expect(object["time"]?.stringValue != nil && object["level"]?.stringValue != nil, "\(line)")
            #expect(object["message"]?.stringValue != nil, "\(line)")
            if object["route"] != nil { requests.append(object) }
        }
        let me = try #require(requests.first { $0["route"] == "/api/users/{id}" && $0["status"] == "200" })
        for field in ["request_id", "method", "status", "duration_ms", "user_id", "client_ip"] {
            #expect(me[field]?.stringValue?.isEmpty == false, "\(field) in \(me)")
        }
        #expect(me["status"] == "200" && me["method"] == "GET" && me["client_ip"] == "127.0.0.1")
        #expect(requests.contains { $0["route"]?.stringValue?.hasPrefix("/api/auth/reset-password/") == true })

        let log = server.text
        for secret in [password, token, key, resetToken.description] + secrets {
            #expect(!log.contains(secret), "the log holds a secret")
        }
        for body in bodies {
            let line = body.split(separator: "\n").first { $0.count > 30 }.map(String.init) ?? body
            #expect(!log.contains(line), "the log holds a mail body")
        }
    }
}
