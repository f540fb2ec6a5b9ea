import Foundation
import GatehouseCore
import TestSupport
import Testing

@testable import GatehouseHost

@Suite(.serialized) struct SignInNoticeTests {
    func login(_ server: TestServer, agent: String) async throws -> TestClient.Reply {
        try await server.client.post(
            "/api/auth/login",
            #"{"email":"ada@example.com","password":"\#(TestServer.password)"}"#,
            headers: [("User-Agent", agent)]
        )
    }

    @Test func aSignInFromANewBrowserIsMailedOnce() async throws {
        let smtp = try await SMTPServer()
        defer { smtp.stop() }
        try await TestServer.run(yaml: smtpYAML(port: smtp.port, extra: "  signInNotice: true\n")) { server in
            try await server.createUser("ada@example.com")

            #expect(try await login(server, agent: "Firefox/140").status == 200)
            let first = ParsedMail(try await smtp.waitForMessages(1)[0].raw)
            #expect(first.header("To") == "ada@example.com")
            #expect(first.header("Subject") == "New sign-in to your Gatehouse account")
            #expect(first.parts[0].1.contains("Address: 127.0.0.1"))
            #expect(first.parts[0].1.contains("Browser: Firefox/140"))

            // The same browser and address again: nothing new. Another browser: a second mail.
            #expect(try await login(server, agent: "Firefox/140").status == 200)
            #expect(try await login(server, agent: "curl/8.5").status == 200)
            let all = try await smtp.waitForMessages(2)
            try await Task.sleep(for: .milliseconds(500))
            #expect(try smtp.messages().count == 2)
            #expect(ParsedMail(all[1].raw).parts[0].1.contains("Browser: curl/8.5"))
        }
    }

    @Test func offByDefault() async throws {
        try await TestServer.run { server in
            try await server.createUser("ada@example.com")
            #expect(try await login(server, agent: "Firefox/140").status == 200)
            #expect(try await server.outboxMails().isEmpty)
        }
    }
}
