import Foundation
import TestSupport
import Testing

/// The security rules that only the real process shows: its memory under a flood, and what it
/// says at start.
@Suite(.serialized) struct SecurityProcessTests {
    /// The resident memory of a process, in bytes (`VmRSS` of /proc/PID/status).
    func residentBytes(_ pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
        let kib = try #require(Int(line.split(separator: " ").dropFirst().first ?? ""))
        return kib * 1024
    }

    @Test func aFloodOfDistinctLongEmailsLeavesMemoryFlatAndTheLogWarnsOfTheLogMailer() async throws {
        let dir = try Paths.temporaryDirectory("e2e-flood")
        let server = try ChildProcess(
            Paths.gatehouse.path,
            ["serve", "--config", Paths.root.appendingPathComponent("etc/gatehouse.yaml").path],
            environment: [
                "GATEHOUSE_SERVER_HOST": "127.0.0.1", "GATEHOUSE_SERVER_PORT": "0",
                "GATEHOUSE_DATABASE_PATH": dir.appendingPathComponent("data/gatehouse.sqlite").path,
                // The flood is about memory, not the general per-address limit.
                "GATEHOUSE_POLICIES_RATE_LIMIT_GENERAL_LIMIT": "1000000",
            ]
        )
        defer { server.stop() }
        let listening = try await server.waitForLine(containing: "listening on 127.0.0.1:")
        let client = TestClient(port: try #require(Int(listening.split(separator: ":").last ?? "")))
        // mail.provider log (the default) is said to be for development, at start.
        #expect(server.text.contains("mail.provider is log") && server.text.contains("not for production"))

        func flood(_ range: Range<Int>) async throws -> [Int] {
            try await withThrowingTaskGroup(of: [Int].self) { group in
                for lane in 0..<8 {
                    group.addTask {
                        var statuses: [Int] = []
                        for i in stride(from: range.lowerBound + lane, to: range.upperBound, by: 8) {
                            let email = "\(i)-" + String(repeating: "x", count: 300) + "@example.com"
                            statuses.append(
                                try await client.post("/api/auth/login", #"{"email":"\#(email)","password":"x"}"#)
                                    .status
                            )
                        }
                        return statuses
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
        }
        // A first round lets the allocator and caches settle; the second is measured.
        _ = try await flood(0..<1000)
        let before = try residentBytes(server.pid)
        let statuses = try await flood(1000..<11_000)
        let after = try residentBytes(server.pid)
        #expect(statuses.count == 10_000 && statuses.allSatisfy { $0 == 400 })
        #expect(after - before < 20 * 1024 * 1024, "RSS grew by \((after - before) / 1024) KiB")
        #expect(try await client.get("/health").status == 200)
    }
}
