import Foundation

/// OpenSSH's `ssh-keygen`: real keys, and the fingerprints ours must equal byte for byte.
public enum SSHKeygen {
    /// `-t` and `-b` of every key kind Gatehouse accepts that ssh-keygen makes without hardware.
    public static let acceptedKinds: [(String, Int?)] = [
        ("ed25519", nil), ("ecdsa", 256), ("ecdsa", 384), ("ecdsa", 521), ("rsa", 2048), ("rsa", 4096),
    ]

    /// A new key pair of `type` (`ed25519`, `ecdsa`, `rsa`, `dsa`) and `bits`; returns the
    /// `.pub` line and the private key file's text.
    public static func generate(type: String, bits: Int? = nil, comment: String = "test@gatehouse") throws -> (
        publicKey: String, privateKey: String
    ) {
        let directory = try Paths.temporaryDirectory("ssh")
        let path = directory.appendingPathComponent("key").path
        var arguments = ["-q", "-t", type, "-N", "", "-C", comment, "-f", path]
        if let bits { arguments += ["-b", String(bits)] }
        try run(arguments)
        return (
            try String(contentsOfFile: path + ".pub", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
            try String(contentsOfFile: path, encoding: .utf8)
        )
    }

    /// The `SHA256:...` fingerprint `ssh-keygen -lf` prints for a public key line.
    public static func fingerprint(of publicKey: String) throws -> String {
        let file = try Paths.temporaryDirectory("ssh").appendingPathComponent("key.pub")
        try (publicKey + "\n").write(to: file, atomically: true, encoding: .utf8)
        let output = try run(["-lf", file.path, "-E", "sha256"])
        let fields = output.split(separator: " ")
        guard fields.count >= 2 else { throw TestFailure("ssh-keygen -lf printed \(output)") }
        return String(fields[1])
    }

    @discardableResult
    static func run(_ arguments: [String]) throws -> String {
        let (status, text) = try Spawned.run("/usr/bin/ssh-keygen", arguments)
        guard status == 0 else {
            throw TestFailure("ssh-keygen \(arguments.joined(separator: " ")) failed: \(text)")
        }
        return text
    }
}
