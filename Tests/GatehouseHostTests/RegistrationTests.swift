import Foundation
import GatehouseCore
import TestSupport
import Testing

@testable import GatehouseHost

/// A register body with `changes` applied (nil removes a field).
func registration(_ changes: [String: JSONValue?] = [:]) -> String {
    var fields: [(String, JSONValue)] = [
        ("email", "new@example.com"), ("password", "Str0ng!pass"), ("firstName", "Nia"), ("lastName", "Ndlovu"),
        ("dateOfBirth", "1995-04-12"), ("billingCountry", "ZA"),
    ]
    for (key, value) in changes {
        fields.removeAll { $0.0 == key }
        if let value { fields.append((key, value)) }
    }
    return JSONValue.object(fields).jsonString
}

@Suite(.serialized) struct RegistrationTests {
    @Test func registeringCreatesTheUserAndMailsACodeAndALink() async throws {
        let smtp = try await SMTPServer()
        defer { smtp.stop() }
        try await TestServer.run(
            yaml: smtpYAML(
                port: smtp.port,
                extra: "  panelURL: https://panel.example.test/\n  productName: Acme Hosting"
            )
        ) { server in
            let reply = try await server.client.post("/api/users/register", registration(["email": "NEW@Example.com"]))
            #expect(reply.status == 201)
            let userId = try #require(reply.json?["userId"]?.stringValue)
            #expect(reply.body == #"{"success":true,"userId":"\#(userId)"}"#)
            let user = try #require(try await server.core.store.user(id: userId))
            #expect(user.email == "new@example.com")
            #expect(user.emailVerified == false)
            #expect(user.billingCountry == "ZA" && user.dateOfBirth == "1995-04-12")
            #expect(user.passwordHash.hasPrefix("$argon2id$"))

            let mail = ParsedMail(try await smtp.waitForMessages(1)[0].raw)
            #expect(mail.header("To") == "new@example.com")
            #expect(mail.header("Subject") == "Confirm your email address for Acme Hosting")
            let text = mail.parts[0].1
            let code = try #require(text.components(separatedBy: "code: ").last?.prefix(6))
            #expect(code.count == 6 && code.allSatisfy(\.isNumber))
            let token = try #require(
                text.components(separatedBy: "https://panel.example.test/verify-email?token=").last?.prefix {
                    !$0.isWhitespace
                }
            )
            #expect(token.count == 43)

            // The code verifies once; the link then no longer works either.
            let wrong = try await server.client.post(
                "/api/auth/verify-email",
                #"{"email":"new@example.com","code":"\#(code == "000000" ? "111111" : "000000")"}"#
            )
            #expect(wrong.status == 400)
            #expect(wrong.body == #"{"error":"Invalid or expired verification"}"#)
            let ok = try await server.client.post(
                "/api/auth/verify-email",
                #"{"email":"new@example.com","code":"\#(code)"}"#
            )
            #expect(ok.status == 200)
            #expect(ok.body == #"{"success":true}"#)
            #expect(try await server.core.store.user(id: userId)?.emailVerified == true)
            #expect(try await server.client.post("/api/auth/verify-email", #"{"token":"\#(token)"}"#).status == 400)
        }
    }

    @Test func theLinkVerifiesAndAResendVoidsTheOldOne() async throws {
        try await TestServer.run { server in
            let reply = try await server.client.post("/api/users/register", registration())
            let userId = try #require(reply.json?["userId"]?.stringValue)
            let login = try await server.client.login("new@example.com", "Str0ng!pass")
            let first = try #require(try await server.core.store.verification(userId: userId))
            let resend = try await server.client.post("/api/auth/verify-email/resend", bearer: login)
            #expect(resend.body == #"{"success":true}"#)
            let second = try #require(try await server.core.store.verification(userId: userId))
            #expect(second.id != first.id)
            // Two verification mails are queued, each in the transaction that made its token.
            #expect(try await server.outboxMails().filter { $0.to == "new@example.com" }.count == 2)
            // Tokens are stored hashed only; the old one is gone.
            #expect(try await server.core.store.verification(tokenHash: first.tokenHash) == nil)
            #expect(try await server.client.post("/api/auth/verify-email/resend").status == 401)
        }
    }

    @Test func fiveWrongCodesVoidTheCode() async throws {
        try await TestServer.run { server in
            let reply = try await server.client.post("/api/users/register", registration())
            let userId = try #require(reply.json?["userId"]?.stringValue)
            // A verification whose code the test knows, stored as registration stores one.
            let (verification, _, right) = EmailVerification.make(userId: userId)
            try await server.core.store.replaceVerification(
                verification,
                mail: OutboxMail(
                    message: MailMessage(to: "new@example.com", subject: "s", text: "t", html: "h"),
                    now: Date()
                )
            )
            let wrongCode = right == "123456" ? "654321" : "123456"
            for _ in 0..<5 {
                _ = try await server.client.post(
                    "/api/auth/verify-email",
                    #"{"email":"new@example.com","code":"\#(wrongCode)"}"#
                )
            }
            let late = try await server.client.post(
                "/api/auth/verify-email",
                #"{"email":"new@example.com","code":"\#(right)"}"#
            )
            #expect(late.status == 400)
            #expect(try await server.core.store.user(id: userId)?.emailVerified == false)
        }
    }

    @Test(
        arguments: [
            (["email": nil], "email", "is required"),
            (["email": .number(5)], "email", "must be a string"),
            (["email": "not-an-email"], "email", "must be a valid email address"),
            (["firstName": ""], "firstName", "must not be empty"),
            (
                ["lastName": .string(String(repeating: "x", count: 10_240))], "lastName",
                "must be at most 100 characters"
            ),
            (["billingCountry": "XX"], "billingCountry", "must be an ISO 3166-1 alpha-2 country code"),
            (["dateOfBirth": "2023-02-30"], "dateOfBirth", "must be a real date in YYYY-MM-DD format"),
            (["dateOfBirth": "12/04/1995"], "dateOfBirth", "must be a real date in YYYY-MM-DD format"),
            (["dateOfBirth": "2999-01-01"], "dateOfBirth", "must be a date in the past"),
            (["password": .bool(true)], "password", "must be a string"),
            (["password": ""], "password", "must not be empty"),
            (["password": .string(String(repeating: "Aa1!", count: 275))], "password", "must be at most 1024 bytes"),
        ] as [([String: JSONValue?], String, String)]
    )
    func badFieldsAreRefusedByName(changes: [String: JSONValue?], field: String, message: String) async throws {
        try await TestServer.run { server in
            let reply = try await server.client.post("/api/users/register", registration(changes))
            #expect(reply.status == 400)
            #expect(reply.error == "Validation failed")
            #expect(
                reply.json?["details"] == .array([.object([("field", .string(field)), ("message", .string(message))])])
            )
            #expect(try await server.core.store.userCount() == 0)
        }
    }

    @Test func weakPasswordsListEveryRuleBroken() async throws {
        try await TestServer.run { server in
            let reply = try await server.client.post(
                "/api/users/register",
                registration(["password": "my-new@example.com"])
            )
            #expect(reply.status == 400)
            #expect(
                reply.body
                    == #"{"error":"Validation failed","details":[{"field":"password","message":"must contain an uppercase letter"},{"field":"password","message":"must contain a digit"},{"field":"password","message":"must not contain your email address"}]}"#
            )
            let short = try await server.client.post("/api/users/register", registration(["password": "Ab1!"]))
            #expect(short.json?["details"]?.jsonString.contains("must be at least 8 characters") == true)
        }
    }

    @Test func minimumAgesFollowTheBillingCountry() async throws {
        try await TestServer.run { server in
            let calendar = Calendar(identifier: .gregorian)
            let thirteen = calendar.date(byAdding: .year, value: -13, to: Date())!.addingTimeInterval(-86400 * 2)
            let dob = String(Timestamp.string(thirteen).prefix(10))
            // 13 is old enough in the US, not in Germany (14).
            let us = try await server.client.post(
                "/api/users/register",
                registration(["dateOfBirth": .string(dob), "billingCountry": "US"])
            )
            #expect(us.status == 201)
            let de = try await server.client.post(
                "/api/users/register",
                registration(["email": "de@example.com", "dateOfBirth": .string(dob), "billingCountry": "DE"])
            )
            #expect(de.status == 400)
            #expect(
                de.body
                    == #"{"error":"Validation failed","details":[{"field":"dateOfBirth","message":"you must be at least 14 years old to register"}]}"#
            )
            // In Europe a date of birth is required; elsewhere it is not.
            let noDobDE = try await server.client.post(
                "/api/users/register",
                registration(["email": "de2@example.com", "dateOfBirth": nil, "billingCountry": "DE"])
            )
            #expect(noDobDE.status == 400)
            #expect(noDobDE.json?["details"]?.jsonString.contains("dateOfBirth") == true)
            let noDobBR = try await server.client.post(
                "/api/users/register",
                registration(["email": "br@example.com", "dateOfBirth": nil, "billingCountry": "BR"])
            )
            #expect(noDobBR.status == 201)
        }
    }

    @Test func duplicatesAndTheRegistrationFlag() async throws {
        try await TestServer.run { server in
            #expect(try await server.client.post("/api/users/register", registration()).status == 201)
            let again = try await server.client.post("/api/users/register", registration(["email": "New@Example.com"]))
            #expect(again.status == 409)
            #expect(again.body == #"{"error":"Email already registered"}"#)

            try server.writeConfig("features:\n  registration: false\n")
            try await server.host.reload()
            let off = try await server.client.post("/api/users/register", registration(["email": "other@example.com"]))
            #expect(off.status == 503)
            #expect(off.body == #"{"error":"Registration is currently disabled"}"#)
        }
    }

    @Test func concurrentRegistrationsAllSucceed() async throws {
        try await TestServer.run { server in
            let statuses = try await withThrowingTaskGroup(of: [Int].self) { group in
                for client in 0..<16 {
                    group.addTask {
                        var statuses: [Int] = []
                        for i in stride(from: client, to: 200, by: 16) {
                            let reply = try await server.client.honoringRetryAfter {
                                try await server.client.post(
                                    "/api/users/register",
                                    registration(["email": .string("user\(i)@example.com")])
                                )
                            }
                            statuses.append(reply.status)
                        }
                        return statuses
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(statuses.count == 200)
            #expect(statuses.allSatisfy { $0 == 201 })
            #expect(try await server.core.store.userCount() == 200)
            #expect(try await server.outboxMails().count == 200)
        }
    }
}
