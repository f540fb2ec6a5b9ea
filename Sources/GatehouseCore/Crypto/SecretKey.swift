import Crypto
import Foundation

/// The server's own secret: 32 random bytes in a file beside the database (`database.keyFile`),
/// created on first start with mode 0600. From it come the key that seals TOTP secrets at rest
/// (AES-GCM) and the key that hashes backup codes (HMAC-SHA-256), so a copy of the database
/// alone reveals neither.
public struct SecretKey: Sendable {
    let sealing: SymmetricKey
    let hashing: SymmetricKey

    public init(bytes: [UInt8]) {
        let master = SymmetricKey(data: bytes)
        sealing = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: master,
            info: Data("gatehouse totp sealing".utf8),
            outputByteCount: 32
        )
        hashing = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: master,
            info: Data("gatehouse code hashing".utf8),
            outputByteCount: 32
        )
    }

    public enum LoadError: Error, CustomStringConvertible {
        case unreadable(String, String)
        case malformed(String)

        public var description: String {
            switch self {
            case .unreadable(let path, let reason): "cannot read or create the key file \(path): \(reason)"
            case .malformed(let path): "the key file \(path) does not hold 32 bytes in base64"
            }
        }
    }

    /// Reads the key file, creating it (and its folder) with a new random key when missing.
    public static func loadOrCreate(path: String) throws -> SecretKey {
        let url = URL(fileURLWithPath: path)
        let manager = FileManager.default
        if !manager.fileExists(atPath: path) {
            do {
                try manager.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                let text = Data(Secrets.randomBytes(32)).base64EncodedString() + "\n"
                // Created empty with mode 0600 first, so the key is never readable by others.
                guard manager.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                    throw LoadError.unreadable(path, "could not create it")
                }
                try Data(text.utf8).write(to: url)
            } catch let error as LoadError {
                throw error
            } catch {
                throw LoadError.unreadable(path, "\(error)")
            }
        }
        let contents: String
        do {
            contents = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw LoadError.unreadable(path, "\(error)")
        }
        guard let data = Data(base64Encoded: contents.trimmingCharacters(in: .whitespacesAndNewlines)),
            data.count == 32
        else { throw LoadError.malformed(path) }
        return SecretKey(bytes: Array(data))
    }

    /// AES-GCM sealed box (nonce, ciphertext, tag) of `plaintext`, in base64.
    public func seal(_ plaintext: [UInt8]) throws -> String {
        try AES.GCM.seal(plaintext, using: sealing).combined!.base64EncodedString()
    }

    /// The plaintext of `seal`'s output; nil when it was not sealed with this key.
    public func open(_ sealed: String) -> [UInt8]? {
        guard let data = Data(base64Encoded: sealed), let box = try? AES.GCM.SealedBox(combined: data),
            let plaintext = try? AES.GCM.open(box, using: sealing)
        else { return nil }
        return Array(plaintext)
    }

    /// Keyed hash (HMAC-SHA-256, hex) of a short secret such as a backup code.
    public func hash(_ text: String) -> String {
        Secrets.hex(HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: hashing))
    }
}
