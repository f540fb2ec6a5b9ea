import Foundation
import TestSupport
import Testing

/// `etc/gatehouse.service` as systemd reads it: `systemd-analyze verify` finds nothing to say
/// (an unknown or misspelt directive is only a warning there, so any output fails the test).
@Suite struct UnitFileTests {
    static let analyzer = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    @Test(.enabled(if: analyzer != nil, "systemd-analyze is not installed"))
    func theUnitFileVerifies() async throws {
        let unit = try String(
            contentsOf: Paths.root.appendingPathComponent("etc/gatehouse.service"),
            encoding: .utf8
        )
        // The unit names the installed binary; verify checks it is there, so point it at ours.
        #expect(unit.contains("ExecStart=/opt/gatehouse/gatehouse serve --config /etc/gatehouse/gatehouse.yaml"))
        for directive in [
            "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure", "NoNewPrivileges=yes", "ProtectSystem=strict",
            "ProtectHome=yes", "PrivateTmp=yes", "ReadWritePaths=/var/lib/gatehouse", "CapabilityBoundingSet=\n",
            "SystemCallFilter=@system-service", "User=gatehouse", "EnvironmentFile=-/etc/gatehouse/env",
        ] {
            #expect(unit.contains(directive), "\(directive)")
        }
        let directory = try Paths.temporaryDirectory("unit")
        let copy = directory.appendingPathComponent("gatehouse.service")
        try unit.replacingOccurrences(of: "/opt/gatehouse/gatehouse", with: Paths.gatehouse.path)
            .write(to: copy, atomically: true, encoding: .utf8)
        let verify = try ChildProcess(try #require(Self.analyzer), ["verify", copy.path])
        let status = try await verify.wait()
        #expect(status == 0, "\(verify.text)")
        #expect(verify.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(verify.text)")
    }
}
