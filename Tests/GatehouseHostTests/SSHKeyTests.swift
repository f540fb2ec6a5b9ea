import Foundation
import GatehouseCore
import TestSupport
import Testing

@testable import GatehouseHost

@Suite(.serialized) struct SSHKeyTests {
    func add(_ server: TestServer, _ token: String, _ fields: [(String, JSONValue)]) async throws -> TestClient.Reply {
        try await server.client.post("/api/ssh-keys", JSONValue.object(fields).jsonString, bearer: token)
    }

    @Test func everyAcceptedTypeIsStoredWithSSHKeygensFingerprint() async throws {
        try await TestServer.run { server in
            try await server.createUser("ada@example.com")
            let token = try await server.client.login("ada@example.com", TestServer.password)
            #expect(try await server.client.get("/api/ssh-keys").status == 401)

            var added: [String] = []
            for (type, bits) in SSHKeygen.acceptedKinds {
                let line = try SSHKeygen.generate(type: type, bits: bits, comment: "\(type)-\(bits ?? 0)@laptop")
                    .publicKey
                let reply = try await add(
                    server,
                    token,
                    [("name", .string("\(type) key")), ("publicKey", .string(line))]
                )
                #expect(reply.status == 201, "\(reply)")
                #expect(reply.json?.objectKeys == ["createdAt", "fingerprint", "id", "name"])
                #expect(reply.json?["fingerprint"]?.stringValue == (try SSHKeygen.fingerprint(of: line)))
                #expect(reply.json?["name"]?.stringValue == "\(type) key")
                added.append(try #require(reply.json?["id"]?.stringValue))
            }
            let list = try await server.client.get("/api/ssh-keys", bearer: token)
            #expect(list.status == 200)
            let ids = try #require(list.json?.arrayValue).compactMap { $0["id"]?.stringValue }
            #expect(ids == added.reversed())
            #expect(list.body.hasPrefix(#"[{"id":""#))
        }
    }

    @Test func namesDefaultToTheCommentAndDuplicatesConflict() async throws {
        try await TestServer.run { server in
            try await server.createUser("ada@example.com")
            try await server.createUser("bob@example.com")
            let ada = try await server.client.login("ada@example.com", TestServer.password)
            let bob = try await server.client.login("bob@example.com", TestServer.password)
            let line = try SSHKeygen.generate(type: "ed25519", comment: "ada@laptop").publicKey

            let first = try await add(server, ada, [("publicKey", .string("\n  \(line)  \n"))])
            #expect(first.status == 201)
            #expect(first.json?["name"]?.stringValue == "ada@laptop")
            let again = try await add(server, ada, [("name", "again"), ("publicKey", .string(line))])
            #expect(again.status == 409)
            #expect(again.body == #"{"error":"This SSH key has already been added"}"#)
            // Another account may hold the same key (sshKeys.uniqueAcrossUsers: false).
            #expect(try await add(server, bob, [("publicKey", .string(line))]).status == 201)

            // Deleting: someone else's or unknown → 404; one's own → gone.
            let id = try #require(first.json?["id"]?.stringValue)
            #expect(try await server.client.request("DELETE", "/api/ssh-keys/\(id)", bearer: bob).status == 404)
            let deleted = try await server.client.request("DELETE", "/api/ssh-keys/\(id)", bearer: ada)
            #expect(deleted.body == #"{"success":true}"#)
            #expect(try await server.client.get("/api/ssh-keys", bearer: ada).body == "[]")
            #expect(try await server.client.request("DELETE", "/api/ssh-keys/\(id)", bearer: ada).status == 404)
        }
    }

    @Test func uniqueAcrossUsersWhenConfigured() async throws {
        try await TestServer.run(yaml: "sshKeys:\n  uniqueAcrossUsers: true\n") { server in
            try await server.createUser("ada@example.com")
            try await server.createUser("bob@example.com")
            let ada = try await server.client.login("ada@example.com", TestServer.password)
            let bob = try await server.client.login("bob@example.com", TestServer.password)
            let line = try SSHKeygen.generate(type: "ed25519").publicKey
            #expect(try await add(server, ada, [("publicKey", .string(line))]).status == 201)
            #expect(try await add(server, bob, [("publicKey", .string(line))]).status == 409)
        }
    }

    @Test func badKeysAreRefusedWithTheReason() async throws {
        try await TestServer.run { server in
            try await server.createUser("ada@example.com")
            let token = try await server.client.login("ada@example.com", TestServer.password)
            let (ed, privateKey) = try SSHKeygen.generate(type: "ed25519")
            let edBlob = ed.split(separator: " ")[1]
            let cases: [(JSONValue, String)] = [
                (
                    .string(try SSHKeygen.generate(type: "rsa", bits: 1024).publicKey),
                    "RSA keys must be at least 2048 bits (this one is 1024)"
                ),
                (
                    .string(try SSHKeygen.generate(type: "dsa").publicKey),
                    "DSA keys (ssh-dss) are not accepted: use an ed25519 or ECDSA key"
                ),
                (.string(privateKey), "This looks like a private key — paste the .pub file"),
                ("ssh-ed25519 bm90IGEga2V5IGF0IGFsbA==", "The key data is truncated"),
                ("ssh-ed25519 %%%", "The key data is not valid base64"),
                (
                    .string("ecdsa-sha2-nistp256 \(edBlob)"),
                    "The key data is a ssh-ed25519 key, not ecdsa-sha2-nistp256"
                ),
                (.string(ed + "\n" + ed), "Paste exactly one public key, on one line"),
                (.string("ssh-ed25519 " + String(repeating: "A", count: 60 * 1024)), "Public key is too long"),
                ("   ", "Public key is empty"),
            ]
            for (publicKey, message) in cases {
                let reply = try await add(server, token, [("name", "k"), ("publicKey", publicKey)])
                #expect(reply.status == 400, "\(reply)")
                #expect(
                    reply.body
                        == JSONValue.object([
                            ("error", "Validation failed"),
                            ("details", .array([.object([("field", "publicKey"), ("message", .string(message))])])),
                        ]).jsonString
                )
            }
            // Over the 64 KiB body limit: 413, still JSON, still not a 5xx.
            let huge = try await add(
                server,
                token,
                [("publicKey", .string("ssh-ed25519 " + String(repeating: "A", count: 100 * 1024)))]
            )
            #expect(huge.status == 413)
            for body in [
                #"{"name":"k"}"#, #"{"publicKey":5}"#, #"{"publicKey":"\#(ed)","name":""}"#,
                #"{"publicKey":"\#(ed)","name":"\#(String(repeating: "n", count: 101))"}"#,
            ] {
                #expect(try await server.client.post("/api/ssh-keys", body, bearer: token).status == 400, "\(body)")
            }
            #expect(try await server.client.get("/api/ssh-keys", bearer: token).body == "[]")
        }
    }

    @Test func theFeatureFlagHidesTheRoutes() async throws {
        try await TestServer.run { server in
            try await server.createUser("ada@example.com")
            let token = try await server.client.login("ada@example.com", TestServer.password)
            try server.writeConfig("features:\n  sshKeys: false\n")
            try await server.host.reload()
            let hidden = try await server.client.get("/api/ssh-keys", bearer: token)
            #expect(hidden.status == 404)
            #expect(hidden.body == #"{"error":"Not found"}"#)
            try server.writeConfig("features:\n  sshKeys: true\n")
            try await server.host.reload()
            #expect(try await server.client.get("/api/ssh-keys", bearer: token).status == 200)
        }
    }
}
