import Crypto
import Foundation
import GatehouseCore

/// `policy.password`: what a new password must be (`policies.password.*`), asked whenever a
/// password is set. A refusal names every rule the password breaks.
public struct PasswordPolicy: PolicyModule, Provisioning {
    public static let id = "policy.password"

    public let minLength: Int
    public let maxLength: Int
    public let requireUppercase: Bool
    public let requireLowercase: Bool
    public let requireDigit: Bool
    public let requireSymbol: Bool
    public let rejectEmail: Bool
    /// `policies.password.breachedList`, read when the policy is loaded.
    let breachedListPath: String?
    /// SHA-1 (hex, any case) or plain entries of a breached-password list, one per line.
    private(set) var breached: Set<String> = []

    public init(config: ConfigSection) throws {
        let section = config.section("policies.password")
        minLength = try section.int("minLength", default: 8, in: 1...1024)
        maxLength = try section.int("maxLength", default: 128, in: 1...1024)
        guard maxLength >= minLength else {
            throw section.issue("maxLength", "must be at least minLength (\(minLength))")
        }
        requireUppercase = try section.bool("requireUppercase", default: true)
        requireLowercase = try section.bool("requireLowercase", default: true)
        requireDigit = try section.bool("requireDigit", default: true)
        requireSymbol = try section.bool("requireSymbol", default: true)
        rejectEmail = try section.bool("rejectEmail", default: true)
        breachedListPath = try section.optionalString("breachedList").flatMap { $0.isEmpty ? nil : $0 }
    }

    public func provisioned() throws -> PasswordPolicy {
        guard let path = breachedListPath else { return self }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigIssue(path: "policies.password.breachedList", message: "cannot read \(path)")
        }
        var serving = self
        serving.breached = Set(
            text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }.map { $0.count == 40 && $0.allSatisfy(\.isHexDigit) ? $0.uppercased() : $0 }
        )
        return serving
    }

    public func decide(_ input: PolicyInput, core: Core) async -> PolicyDecision {
        guard input.point == .passwordSet, case .password(let password) = input.subject else { return .allow }
        let issues = self.issues(password, email: input.email)
        return issues.isEmpty ? .allow : .deny(.validation(issues))
    }

    /// Every rule `password` breaks, in a fixed order.
    public func issues(_ password: String, email: String?) -> [FieldIssue] {
        var issues: [FieldIssue] = []
        var problems: [String] = []
        if password.count < minLength {
            issues.append(
                FieldIssue(field: "password", message: "must be at least \(minLength) characters", code: .tooShort)
            )
        }
        if password.count > maxLength {
            issues.append(
                FieldIssue(field: "password", message: "must be at most \(maxLength) characters", code: .tooLong)
            )
        }
        if requireUppercase && !password.contains(where: \.isUppercase) {
            problems.append("must contain an uppercase letter")
        }
        if requireLowercase && !password.contains(where: \.isLowercase) {
            problems.append("must contain a lowercase letter")
        }
        if requireDigit && !password.contains(where: \.isNumber) { problems.append("must contain a digit") }
        if requireSymbol && !password.contains(where: { !$0.isLetter && !$0.isNumber && !$0.isWhitespace }) {
            problems.append("must contain a symbol")
        }
        if rejectEmail, let email, !email.isEmpty {
            let lowered = password.lowercased()
            let local = email.lowercased().split(separator: "@").first.map(String.init) ?? ""
            if lowered.contains(email.lowercased()) || (local.count >= 4 && lowered.contains(local)) {
                problems.append("must not contain your email address")
            }
        }
        if !breached.isEmpty {
            let sha1 = Secrets.hex(Insecure.SHA1.hash(data: Data(password.utf8))).uppercased()
            if breached.contains(sha1) || breached.contains(password) {
                problems.append("appears in a list of breached passwords; choose another")
            }
        }
        return issues + problems.map { FieldIssue(field: "password", message: $0, code: .invalid) }
    }
}
