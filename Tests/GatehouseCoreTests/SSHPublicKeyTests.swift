import Foundation
import GatehouseCore
import TestSupport
import Testing

@Suite struct SSHPublicKeyTests {
    /// Builds a wire-format blob from strings.
    static func blob(_ fields: [[UInt8]]) -> [UInt8] {
        fields.flatMap { field in
            let n = UInt32(field.count)
            return [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + field
        }
    }

    static func blobOf(_ line: String) -> [UInt8] {
        Array(Data(base64Encoded: String(line.split(separator: " ")[1]))!)
    }

    @Test func keysOfEveryAcceptedTypeParseWithSSHKeygensFingerprint() throws {
        for (type, bits) in SSHKeygen.acceptedKinds {
            let (line, _) = try SSHKeygen.generate(type: type, bits: bits, comment: "ada@laptop")
            let key = try SSHPublicKey.parse("  \(line)\n")
            #expect(key.fingerprint == (try SSHKeygen.fingerprint(of: line)), "\(type) \(bits ?? 0)")
            #expect(key.comment == "ada@laptop")
            #expect(key.line == line)
        }
    }

    @Test func securityKeyTypesParseWithSSHKeygensFingerprint() throws {
        let ed25519 = Self.blobOf(try SSHKeygen.generate(type: "ed25519").publicKey)
        let point = Array(ed25519.suffix(32))
        let skEd = Self.blob([Array("sk-ssh-ed25519@openssh.com".utf8), point, Array("ssh:".utf8)])
        let ecdsa = Self.blobOf(try SSHKeygen.generate(type: "ecdsa", bits: 256).publicKey)
        let q = Array(ecdsa.suffix(65))
        let skEcdsa = Self.blob([
            Array("sk-ecdsa-sha2-nistp256@openssh.com".utf8), Array("nistp256".utf8), q, Array("ssh:".utf8),
        ])
        for (type, blob) in [
            ("sk-ssh-ed25519@openssh.com", skEd), ("sk-ecdsa-sha2-nistp256@openssh.com", skEcdsa),
        ] {
            let line = "\(type) \(Data(blob).base64EncodedString())"
            let key = try SSHPublicKey.parse(line)
            #expect(key.fingerprint == (try SSHKeygen.fingerprint(of: line)))
        }
    }

    func refusal(_ text: String) -> String? {
        do {
            _ = try SSHPublicKey.parse(text)
            return nil
        } catch {
            return error.message
        }
    }

    @Test func refusalsSayWhatIsWrong() throws {
        let rsa1024 = try SSHKeygen.generate(type: "rsa", bits: 1024).publicKey
        #expect(refusal(rsa1024) == "RSA keys must be at least 2048 bits (this one is 1024)")
        let dsa = try SSHKeygen.generate(type: "dsa").publicKey
        #expect(refusal(dsa) == "DSA keys (ssh-dss) are not accepted: use an ed25519 or ECDSA key")
        let (ed, privateKey) = try SSHKeygen.generate(type: "ed25519")
        #expect(refusal(privateKey) == "This looks like a private key — paste the .pub file")
        #expect(refusal(ed + "\n" + ed) == "Paste exactly one public key, on one line")
        #expect(refusal("ssh-ed25519 !!!notbase64!!!") == "The key data is not valid base64")
        #expect(refusal("ssh-ed25519") == "The key data after \"ssh-ed25519\" is missing")
        #expect(refusal("") == "Public key is empty")
        #expect(refusal("ssh-ed25519-cert-v01@openssh.com AAAA")?.hasPrefix("Unsupported key type") == true)
        // An ed25519 blob declared as RSA.
        let blob = ed.split(separator: " ")[1]
        #expect(refusal("ssh-rsa \(blob)") == "The key data is a ssh-ed25519 key, not ssh-rsa")
        // A trailing byte inside the blob.
        let padded = Data(Self.blobOf(ed) + [0]).base64EncodedString()
        #expect(refusal("ssh-ed25519 \(padded)") == "The key data has trailing bytes")
        // A P-256 key whose point is not on the curve.
        var ecdsa = Self.blobOf(try SSHKeygen.generate(type: "ecdsa", bits: 256).publicKey)
        ecdsa[ecdsa.count - 1] ^= 1
        #expect(
            refusal("ecdsa-sha2-nistp256 \(Data(ecdsa).base64EncodedString())")
                == "The ECDSA key is not a point on nistp256"
        )
        #expect(try SSHPublicKey.parse(rsa1024, minimumRSABits: 1024).type == "ssh-rsa")
    }

    /// Every truncation of every valid blob is refused, and no mutation crashes the parser.
    @Test func truncatedAndMutatedBlobsNeverCrash() throws {
        var generator = SystemRandomNumberGenerator()
        for (type, bits) in SSHKeygen.acceptedKinds {
            let line = try SSHKeygen.generate(type: type, bits: bits).publicKey
            let declared = String(line.split(separator: " ")[0])
            let blob = Self.blobOf(line)
            for length in 0..<blob.count {
                let text = "\(declared) \(Data(blob.prefix(length)).base64EncodedString())"
                #expect(refusal(text) != nil, "\(declared) truncated to \(length) bytes was accepted")
            }
            for _ in 0..<300 {
                var mutated = blob
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    mutated[Int.random(in: 0..<mutated.count, using: &generator)] = UInt8.random(
                        in: 0...255,
                        using: &generator
                    )
                }
                // Accepted or refused, never a crash; an accepted one still has a fingerprint.
                if let key = try? SSHPublicKey.parse("\(declared) \(Data(mutated).base64EncodedString())") {
                    #expect(key.fingerprint.hasPrefix("SHA256:"))
                }
            }
        }
    }
}
