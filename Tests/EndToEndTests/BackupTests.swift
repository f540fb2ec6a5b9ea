import Foundation
import Synchronization
import TestSupport
import Testing

/// `gatehouse backup` and `gatehouse restore`, as an operator runs them next to a live server.
@Suite(.serialized) struct BackupTests {
    func run(_ arguments: [String], environment: [String: String]) async throws -> (Int32, String) {
        let child = try ChildProcess(Paths.gatehouse.path, arguments, environment: environment)
        let status = try await child.wait()
        return (status, child.text)
    }

    @Test func aBackupUnderWriteLoadRestoresIntoAWorkingServer() async throws {
        let dir = try Paths.temporaryDirectory("e2e-backup")
        let live = dir.appendingPathComponent("live/gatehouse.sqlite").path
        let config = Paths.root.appendingPathComponent("etc/gatehouse.yaml").path
        let environment = [
            "GATEHOUSE_DATABASE_PATH": live, "GATEHOUSE_SERVER_HOST": "127.0.0.1", "GATEHOUSE_SERVER_PORT": "0",
            "GATEHOUSE_POLICIES_RATE_LIMIT_REGISTER_LIMIT": "100000",
        ]
        let server = try ChildProcess(Paths.gatehouse.path, ["serve", "--config", config], environment: environment)
        defer { server.stop() }
        let listening = try await server.waitForLine(containing: "listening on 127.0.0.1:")
        let client = TestClient(port: try #require(Int(listening.split(separator: ":").last ?? "")))
        let register = { (email: String) async throws -> Int in
            try await client.post(
                "/api/users/register",
                #"{"email":"\#(email)","password":"Str0ng!pass","firstName":"Ada","lastName":"L"}"#
            ).status
        }
        #expect(try await register("before@example.com") == 201)

        // A second server on the same database is refused.
        let (second, secondOutput) = try await run(["serve", "--config", config], environment: environment)
        #expect(second == 1)
        #expect(secondOutput.contains("another process is serving"), "\(secondOutput)")

        // Registrations keep coming while the backup is taken (it starts once some are in).
        let acknowledgedSoFar = Mutex(0)
        let load = Task {
            for index in 0..<400 where !Task.isCancelled {
                do {
                    if try await register("load\(index)@example.com") == 201 { acknowledgedSoFar.withLock { $0 += 1 } }
                } catch is CancellationError {
                    break
                }
            }
        }
        #expect(try await eventually { acknowledgedSoFar.withLock { $0 } >= 2 })
        let copy = dir.appendingPathComponent("backups/copy.sqlite").path
        try FileManager.default.createDirectory(
            atPath: dir.appendingPathComponent("backups").path,
            withIntermediateDirectories: true
        )
        let (backedUp, backupOutput) = try await run(["backup", "--config", config, copy], environment: environment)
        #expect(backedUp == 0, "\(backupOutput)")
        #expect(backupOutput.contains("checked"), "\(backupOutput)")
        load.cancel()
        try await load.value
        #expect(acknowledgedSoFar.withLock { $0 } >= 2)
        let mode = try FileManager.default.attributesOfItem(atPath: copy)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(
            try Data(contentsOf: URL(fileURLWithPath: copy + ".key"))
                == Data(contentsOf: URL(fileURLWithPath: live + ".key"))
        )
        let (again, againOutput) = try await run(["backup", "--config", config, copy], environment: environment)
        #expect(again == 1 && againOutput.contains("exists"), "\(againOutput)")

        // Not over the running server's database.
        let (refused, refusedOutput) = try await run(
            ["restore", "--config", config, "--force", copy],
            environment: environment
        )
        #expect(refused == 1)
        #expect(refusedOutput.contains("stop the server first"), "\(refusedOutput)")

        // Into a new place, then served: the account made before the backup signs in.
        let restored = dir.appendingPathComponent("restored/gatehouse.sqlite").path
        var elsewhere = environment
        elsewhere["GATEHOUSE_DATABASE_PATH"] = restored
        let (restoredStatus, restoreOutput) = try await run(
            ["restore", "--config", config, copy],
            environment: elsewhere
        )
        #expect(restoredStatus == 0, "\(restoreOutput)")
        let (twice, twiceOutput) = try await run(["restore", "--config", config, copy], environment: elsewhere)
        #expect(twice == 1 && twiceOutput.contains("--force"), "\(twiceOutput)")
        let replica = try ChildProcess(Paths.gatehouse.path, ["serve", "--config", config], environment: elsewhere)
        defer { replica.stop() }
        let replicaListening = try await replica.waitForLine(containing: "listening on 127.0.0.1:")
        let replicaClient = TestClient(port: try #require(Int(replicaListening.split(separator: ":").last ?? "")))
        _ = try await replicaClient.login("before@example.com", "Str0ng!pass")
        #expect(
            try Data(contentsOf: URL(fileURLWithPath: restored + ".key"))
                == Data(contentsOf: URL(fileURLWithPath: live + ".key"))
        )
        server.signal(SIGTERM)
        replica.signal(SIGTERM)
        #expect(try await server.wait() == 0)
        #expect(try await replica.wait() == 0)

        // Over the stopped server's own database: what it replaces is kept aside.
        let (forced, forcedOutput) = try await run(
            ["restore", "--config", config, "--force", copy],
            environment: environment
        )
        #expect(forced == 0, "\(forcedOutput)")
        #expect(FileManager.default.fileExists(atPath: live + ".pre-restore"))
        #expect(FileManager.default.fileExists(atPath: live + ".key.pre-restore"))
        let back = try ChildProcess(Paths.gatehouse.path, ["serve", "--config", config], environment: environment)
        defer { back.stop() }
        let backListening = try await back.waitForLine(containing: "listening on 127.0.0.1:")
        let backClient = TestClient(port: try #require(Int(backListening.split(separator: ":").last ?? "")))
        _ = try await backClient.login("before@example.com", "Str0ng!pass")
        back.signal(SIGTERM)
        #expect(try await back.wait() == 0)
    }
}
