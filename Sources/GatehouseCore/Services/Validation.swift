import Foundation

/// Field checks shared by every surface, so each says the same thing about the same mistake.
public enum Validate {
    /// A plausible address: one `@`, a non-empty local part of at most 64 bytes, a dotted domain
    /// of letters, digits and hyphens, no spaces or control characters, at most 254 bytes.
    public static func isEmail(_ email: String) -> Bool {
        guard email.utf8.count <= 254 else { return false }
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return false }
        let local = parts[0]
        let domain = parts[1]
        guard !local.isEmpty, local.utf8.count <= 64, !local.hasPrefix("."), !local.hasSuffix("."),
            !local.contains("..")
        else { return false }
        let localAllowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "!#$%&'*+/=?^_`{|}~.-"))
        guard local.unicodeScalars.allSatisfy({ $0.isASCII && localAllowed.contains($0) }) else { return false }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2 else { return false }
        for label in labels {
            guard !label.isEmpty, label.utf8.count <= 63, !label.hasPrefix("-"), !label.hasSuffix("-") else {
                return false
            }
            guard
                label.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-") }
                )
            else { return false }
        }
        return labels.last!.allSatisfy(\.isLetter)
    }

    /// The longest email anything accepts (RFC 5321's path limit).
    public static let maxEmailBytes = 254

    /// The normalized email, refused with 400 when longer than `maxEmailBytes`: checked before
    /// anything is hashed, counted or stored for it.
    public static func boundedEmail(_ email: String) throws -> String {
        let email = normalizedEmail(email)
        guard email.utf8.count <= maxEmailBytes else {
            throw GatehouseError.validation(field: "email", "must be at most \(maxEmailBytes) bytes", code: .tooLong)
        }
        return email
    }

    /// Where a client may be sent after an action (a `callbackURL`): a path on this site, or a
    /// URL on one of `allowedOrigins`. Paths are held to a strict rule: one
    /// leading slash (not `//` or `/\`, which browsers read as another host), then letters,
    /// digits and `_-.+/@`, and an optional query of those and `=&%`.
    public static func isSafeRedirect(_ url: String, allowedOrigins: [String]) -> Bool {
        if url.hasPrefix("/") {
            let path = url.utf8.split(separator: UInt8(ascii: "?"), maxSplits: 1, omittingEmptySubsequences: false)
            let pathBytes = path[0]
            let second = pathBytes.dropFirst().first
            if second == UInt8(ascii: "/") || second == UInt8(ascii: "\\") { return false }
            func allowed(_ byte: UInt8, extra: String) -> Bool {
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || "_-.+/@\(extra)".utf8.contains(byte)
            }
            guard pathBytes.allSatisfy({ allowed($0, extra: "") }) else { return false }
            return path.count == 1 || path[1].allSatisfy { allowed($0, extra: "=&%") }
        }
        guard let origin = Origin.of(url) else { return false }
        return allowedOrigins.contains(origin)
    }

    /// A form's email, normalized, or its issue: the one check every form makes of an address.
    public static func email(_ value: String, field: String = "email") -> (String, FieldIssue?) {
        let email = normalizedEmail(value)
        let issue =
            isEmail(email) ? nil : FieldIssue(field: field, message: "must be a valid email address", code: .invalid)
        return (email, issue)
    }

    /// What every new password must be, whatever the password policy adds: not empty, at most
    /// 1024 bytes (argon2 hashes it all). nil when it is both.
    public static func newPassword(_ value: String, field: String = "password") -> FieldIssue? {
        if value.isEmpty { return FieldIssue(field: field, message: "must not be empty", code: .required) }
        if value.utf8.count > 1024 {
            return FieldIssue(field: field, message: "must be at most 1024 bytes", code: .tooLong)
        }
        return nil
    }

    /// Lower-cased and trimmed: the form in which emails are stored and compared.
    public static func normalizedEmail(_ email: String) -> String {
        email.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }

    /// An http or https URL with a host, at most 2048 characters; returns the issue, if any.
    public static func imageURL(_ value: String, field: String) -> FieldIssue? {
        guard value.utf8.count <= 2048, let url = URL(string: value),
            let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty
        else { return FieldIssue(field: field, message: "must be a valid http(s) URL") }
        return nil
    }

    /// A last name, or the issue. It may be empty when a display name stands for the whole name
    /// (a surface that asks for one `name`).
    public static func lastName(_ value: String, displayName: String?) -> FieldIssue? {
        if value.isEmpty && displayName != nil { return nil }
        return name(value, field: "lastName")
    }

    /// First and last name from one full name: the first word, and the rest (maybe empty).
    public static func nameParts(_ fullName: String) -> (first: String, last: String) {
        let words = fullName.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ", maxSplits: 1)
        return (words.first.map(String.init) ?? "", words.count > 1 ? String(words[1]) : "")
    }

    /// A name of 1 to `max` characters, no control characters; returns the issue, if any.
    public static func name(_ value: String, field: String, max: Int = 100) -> FieldIssue? {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return FieldIssue(field: field, message: "must not be empty") }
        if trimmed.count > max {
            return FieldIssue(field: field, message: "must be at most \(max) characters", code: .tooLong)
        }
        if trimmed.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) }) {
            return FieldIssue(field: field, message: "must not contain control characters")
        }
        return nil
    }

    /// A `YYYY-MM-DD` date that exists in the calendar; returns its components.
    public static func calendarDate(_ text: String) -> DateComponents? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.utf8.count == 10, parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
            (1...12).contains(month), day >= 1
        else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard let first = calendar.date(from: DateComponents(year: year, month: month, day: 1)),
            let days = calendar.range(of: .day, in: .month, for: first), days.contains(day)
        else { return nil }
        return DateComponents(year: year, month: month, day: day)
    }

    /// Whole years from a `YYYY-MM-DD` birth date to `now` (UTC); nil for a malformed date.
    public static func age(dateOfBirth: String, now: Date = Date()) -> Int? {
        guard let birth = calendarDate(dateOfBirth) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let today = calendar.dateComponents([.year, .month, .day], from: now)
        var years = today.year! - birth.year!
        if (today.month!, today.day!) < (birth.month!, birth.day!) { years -= 1 }
        return years
    }
}
