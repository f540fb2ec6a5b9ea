import Foundation
import GatehouseCore
import Testing

@Suite struct NudgeTests {
    /// A wait that timed out leaves the next one waiting: the stream-based nudge returned at
    /// once from every wait after its first timeout, and the outbox lanes spun.
    @Test func waitsKeepWaitingAfterTimeouts() async {
        let nudge = Nudge()
        for _ in 0..<3 { await nudge.wait(timeout: .milliseconds(20)) }
        let clock = ContinuousClock()
        let start = clock.now
        await nudge.wait(timeout: .milliseconds(300))
        #expect(clock.now - start >= .milliseconds(290))
    }

    @Test func aSignalWakesAWaiterAndOneWithoutWaitersIsKept() async {
        let nudge = Nudge()
        let clock = ContinuousClock()
        let start = clock.now
        async let woken: Void = nudge.wait(timeout: .seconds(60))
        try? await Task.sleep(for: .milliseconds(100))
        nudge.signal()
        await woken
        #expect(clock.now - start < .seconds(30))
        // Nobody waits: the signal is kept for the next wait, which returns at once.
        nudge.signal()
        let again = clock.now
        await nudge.wait(timeout: .seconds(60))
        #expect(clock.now - again < .seconds(30))
    }

    @Test func cancellingTheWaitingTaskEndsTheWait() async {
        let nudge = Nudge()
        let clock = ContinuousClock()
        let start = clock.now
        let task = Task { await nudge.wait(timeout: .seconds(60)) }
        try? await Task.sleep(for: .milliseconds(100))
        task.cancel()
        await task.value
        #expect(clock.now - start < .seconds(30))
    }
}
