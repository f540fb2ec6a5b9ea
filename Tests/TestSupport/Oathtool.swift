import Foundation

/// Debian's `oathtool`: an independent TOTP implementation to check ours against.
public enum Oathtool {
    /// The 6-digit TOTP code of a base32 secret at `date` (SHA-1, 30 s steps).
    public static func totp(secret: String, at date: Date = Date()) throws -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        let (status, output) = try Spawned.run(
            "/usr/bin/oathtool",
            ["--totp", "-b", secret, "--now", formatter.string(from: date) + " UTC"]
        )
        guard status == 0 else { throw TestFailure("oathtool exited \(status): \(output)") }
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
