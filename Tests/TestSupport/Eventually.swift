import Foundation

/// How long a test waits for something asynchronous (a mail delivered, a row changed, a
/// connection closed) before calling it missing. Generous on purpose: the wait ends as soon as
/// the thing happens, and a CI run on two loaded cores has taken over 20 s to deliver a mail.
public let eventualTimeout: Double = 90

/// Polls `condition` until it holds or `timeout` seconds pass, and says whether it held. The
/// condition is checked once more at the deadline, so a thing that happens during the last sleep
/// is not reported missing.
@discardableResult
public func eventually(
    timeout: Double = eventualTimeout,
    every interval: Duration = .milliseconds(50),
    _ condition: () async throws -> Bool
) async throws -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: interval)
    }
    return try await condition()
}
