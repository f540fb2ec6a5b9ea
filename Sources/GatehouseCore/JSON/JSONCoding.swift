import Foundation

/// ISO 8601, UTC, with milliseconds: `2024-01-15T10:30:00.000Z` (CONTRACT §1).
public enum Timestamp {
    /// The time rounded to the nearest millisecond, as the store keeps it (its text form is
    /// `yyyy-MM-dd HH:mm:ss.SSS`, rounded): a date reads the same before and after a round trip
    /// through the database.
    public static func string(_ date: Date) -> String {
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded())
        var seconds = time_t(millis.floorDiv(1000))
        let fraction = Int(millis - Int64(seconds) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(fraction), 3))Z"
    }

    /// Parses ISO 8601 with or without fractional seconds.
    public static func parse(_ string: String) -> Date? {
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(string) { return date }
        return try? Date.ISO8601FormatStyle().parse(string)
    }
}

extension JSONDecoder {
    /// The decoder for request bodies.
    public static var gatehouse: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let string = try container.decode(String.self)
            guard let date = Timestamp.parse(string) else {
                throw DecodingError.dataCorruptedError(
                    in: container,
                    debugDescription: "must be an ISO 8601 timestamp"
                )
            }
            return date
        }
        return decoder
    }
}

extension Int64 {
    /// Division rounding towards negative infinity (dates before 1970 stay right).
    fileprivate func floorDiv(_ divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
