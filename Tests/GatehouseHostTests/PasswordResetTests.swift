import Foundation
import GatehouseCore
import TestSupport
import Testing

@testable import GatehouseHost

@Suite(.serialized) struct PasswordResetTests {
    /// The token in the reset mail's link.
    func token(in mail: ParsedMail) throws -> String {
        let text = mail.parts[0].1
        return String(
            try #require(text.components(separatedBy: "/reset-password?token=").last?.prefix { !$0.isWhitespace })
        )
    }

    @Test func aResetLinkSetsANewPasswordOnceAndEndsEverySession() async throws {
        let smtp = try await SMTPServer()
        defer { smtp.stop() }
        try await TestServer.run(yaml: smtpYAML(port: smtp.port)) { server in
            let ada = try await server.createUser("ada@example.com")
            let session = try await server.client.login("ada@example.com", TestServer.password)

            let forgot = try await server.client.post("/api/auth/password/forgot", #"{"email":"Ada@Example.com"}"#)
            #expect(forgot.status == 200)
            #expect(forgot.body == #"{"success":true}"#)
            let resetMail = ParsedMail(try await smtp.waitForMessages(1)[0].raw)
            #expect(resetMail.header("To") == "ada@example.com")
            let token = try token(in: resetMail)
            #expect(token.count == 43)

            let weak = try await server.client.post(
                "/api/auth/password/reset",
                #"{"token":"\#(token)","password":"short"}"#
            )
            #expect(weak.status == 400)
            #expect(weak.error == "Validation failed")

            let reset = try await server.client.post(
                "/api/auth/password/reset",
                #"{"token":"\#(token)","password":"N3w!password"}"#
            )
            #expect(reset.body == #"{"success":true}"#)
            #expect(try await server.client.get("/api/users/me", bearer: session).status == 401)
            #expect(try await server.core.store.sessions(userId: ada.id, now: Date()).isEmpty)
            #expect(try await server.client.login("ada@example.com", "N3w!password").isEmpty == false)
            #expect(
                try await server.client.post(
                    "/api/auth/login",
                    #"{"email":"ada@example.com","password":"\#(TestServer.password)"}"#
                ).status == 401
            )
            // The notice is mailed; the token does not work twice.
            let notice = ParsedMail(try await smtp.waitForMessages(2)[1].raw)
            #expect(notice.header("Subject") == "Your Gatehouse password was reset")
            let again = try await server.client.post(
                "/api/auth/password/reset",
                #"{"token":"\#(token)","password":"An0ther!pass"}"#
            )
            #expect(again.status == 400)
            #expect(again.body == #"{"error":"Invalid or expired reset token"}"#)
        }
    }

    @Test func unknownEmailsGetTheSameAnswerAndNoMail() async throws {
        try await TestServer.run { server in
            let unknown = try await server.client.post("/api/auth/password/forgot", #"{"email":"nobody@example.com"}"#)
            #expect(unknown.status == 200)
            #expect(unknown.body == #"{"success":true}"#)
            #expect(try await server.outboxMails().isEmpty)
            let bogus = try await server.client.post(
                "/api/auth/password/reset",
                #"{"token":"bogus","password":"N3w!password"}"#
            )
            #expect(bogus.status == 400)
            #expect(bogus.error == "Invalid or expired reset token")
            let missing = try await server.client.post("/api/auth/password/forgot", "{}")
            #expect(missing.status == 400)
        }
    }
}
