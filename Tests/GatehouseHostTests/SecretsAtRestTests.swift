import Foundation
import GatehouseCore
import GatehouseStore
import TestSupport
import Testing

@testable import GatehouseHost

@Suite struct SecretsAtRestTests {
    /// The database files' bytes, after a checkpoint.
    func databaseBytes(_ server: TestServer) async throws -> Data {
        try await (server.core.store as! SQLiteStore).checkpoint()
        let path = server.directory.appendingPathComponent("data/gatehouse.sqlite").path
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        for suffix in ["-wal", "-shm"] {
            if let more = try? Data(contentsOf: URL(fileURLWithPath: path + suffix)) { data.append(more) }
        }
        return data
    }

    @Test func noPasswordTokenKeyBackupCodeOrTOTPSecretIsStoredInClear() async throws {
        try await TestServer.run { server in
            let password = "Unique!Passw0rd-\(UUID().uuidString.prefix(8))"
            let registered = try await server.client.post(
                "/api/users/register",
                registration(["email": "secret@example.com", "password": .string(password)])
            )
            #expect(registered.status == 201)
            let token = try await server.client.login("secret@example.com", password)
            let apiKey = try #require(
                try await server.client.post("/api/apikeys", #"{"name":"ci"}"#, bearer: token).json?["key"]?.stringValue
            )
            #expect(try await server.client.get("/api/users/me", bearer: apiKey).status == 200)
            let (totpSecret, backupCodes, _) = try await enableTwoFactor(server, session: token, password: password)
            let challenge = try await server.client.post(
                "/api/auth/login",
                #"{"email":"secret@example.com","password":"\#(password)"}"#
            )
            let tempToken = try #require(challenge.json?["tempToken"]?.stringValue)
            #expect(
                try await server.client.post("/api/auth/password/forgot", #"{"email":"secret@example.com"}"#).status
                    == 200
            )
            // The log provider delivers the queued mails; their bodies (with link tokens) are then dropped.
            #expect(try await eventually { try await server.outboxMails().allSatisfy { $0.status == .sent } })
            let mails = try await server.outboxMails()
            // The verification mail, the new-key notice and the two-factor-off notice.
            #expect(mails.count == 3 && mails.allSatisfy { $0.status == .sent && $0.text.isEmpty && $0.html.isEmpty })

            let bytes = try await databaseBytes(server)
            var secrets = [password, token, tempToken, totpSecret, apiKey, String(apiKey.dropFirst(10))]
            secrets += backupCodes + backupCodes.map { $0.replacingOccurrences(of: "-", with: "") }
            for secret in secrets {
                #expect(bytes.range(of: Data(secret.utf8)) == nil, "found \(secret) in the database")
            }
            #expect(
                bytes.range(of: Data(try #require(Base32Decoding.decode(totpSecret)))) == nil,
                "found the raw TOTP secret"
            )
            // What is there instead: the hashes.
            #expect(bytes.range(of: Data(Secrets.sha256Hex(token).utf8)) != nil)
            #expect(bytes.range(of: Data(Secrets.sha256Hex(apiKey).utf8)) != nil)
        }
    }

    @Test func fiftyConcurrentLoginsOfOneUserAllSucceed() async throws {
        try await TestServer.run(yaml: "sessions:\n  maxPerUser: 100\n") { server in
            let user = try await server.createUser("ada@example.com")
            let tokens = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<50 {
                    group.addTask { try await server.client.login("ada@example.com", TestServer.password) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(tokens).count == 50)
            #expect(try await server.core.store.sessions(userId: user.id, now: Date()).count == 50)
        }
    }
}
