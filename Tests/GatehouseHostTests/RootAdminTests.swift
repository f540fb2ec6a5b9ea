import Foundation
import GatehouseCore
import TestSupport
import Testing

@testable import GatehouseHost

@Suite(.serialized) struct RootAdminTests {
    /// Two rootAdmins demoting each other at the same moment: one wins, one rootAdmin remains.
    @Test func twoRootAdminsDemotingEachOtherAtOnceLeaveOne() async throws {
        try await TestServer.run { server in
            let a = try await server.createUser("a@example.com", role: .rootAdmin)
            let b = try await server.createUser("b@example.com", role: .rootAdmin)
            let tokenA = try await server.client.login("a@example.com", TestServer.password)
            let tokenB = try await server.client.login("b@example.com", TestServer.password)
            for _ in 0..<10 {
                async let first = server.client.put("/api/users/\(b.id)", #"{"role":"admin"}"#, bearer: tokenA)
                async let second = server.client.put("/api/users/\(a.id)", #"{"role":"admin"}"#, bearer: tokenB)
                let statuses = try await [first.status, second.status].sorted()
                #expect(statuses == [200, 403], "\(statuses)")
                #expect(try await server.core.store.count(role: .rootAdmin) == 1)
                // Put the demoted one back for the next round.
                let (winner, loser) =
                    try await server.core.store.user(id: a.id)?.role == .rootAdmin ? (tokenA, b) : (tokenB, a)
                #expect(
                    try await server.client.put("/api/users/\(loser.id)", #"{"role":"rootAdmin"}"#, bearer: winner)
                        .status
                        == 200
                )
            }
        }
    }
}
