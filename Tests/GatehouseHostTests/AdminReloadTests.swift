import Foundation
import GatehouseCore
import TestSupport
import Testing

@testable import GatehouseHost

@Suite(.serialized) struct AdminReloadTests {
    @Test func aRootAdminReloadsOverHTTPAndABadConfigIsRefused() async throws {
        try await TestServer.run { server in
            try await server.createUser("root@example.com", role: .rootAdmin)
            try await server.createUser("admin@example.com", role: .admin)
            let root = try await server.client.login("root@example.com", TestServer.password)
            let admin = try await server.client.login("admin@example.com", TestServer.password)

            try server.writeConfig("features:\n  registration: false\n")
            #expect(try await server.client.post("/api/admin/reload").status == 401)
            let notRoot = try await server.client.post("/api/admin/reload", bearer: admin)
            #expect(notRoot.status == 403)
            #expect(notRoot.body == #"{"error":"Forbidden: rootAdmin access required"}"#)
            #expect(try await server.client.post("/api/users/register", registration()).status == 201)

            let reloaded = try await server.client.post("/api/admin/reload", bearer: root)
            #expect(reloaded.body == #"{"success":true}"#)
            let off = try await server.client.post("/api/users/register", registration(["email": "two@example.com"]))
            #expect(off.status == 503)

            // Refused, naming the key; the running config (registration off) stays.
            try server.writeConfig("features:\n  registration: maybe\n")
            let refused = try await server.client.post("/api/admin/reload", bearer: root)
            #expect(refused.status == 400)
            #expect(refused.error == "Validation failed")
            #expect(refused.json?["details"]?.arrayValue?.first?["field"] == "features.registration")
            #expect(
                try await server.client.post("/api/users/register", registration(["email": "three@example.com"])).status
                    == 503
            )

            try server.writeConfig("database:\n  busyTimeout: 9\n")
            let restart = try await server.client.post("/api/admin/reload", bearer: root)
            #expect(restart.json?["details"]?.arrayValue?.first?["field"] == "database")
            #expect(restart.json?["details"]?.arrayValue?.first?["message"] == "changing this needs a restart")
        }
    }
}
