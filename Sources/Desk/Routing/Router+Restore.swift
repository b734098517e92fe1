import Foundation

extension Router {
    /// Puts back the open consultations the store holds, after a restart: waiting ones (queued,
    /// offered — an offer made before the restart is void) at their place, held ones (active, on
    /// hold) with their agent. Bot and missed consultations are not the router's.
    public mutating func restore(from consultations: [Consultation]) {
        var waiting: [Waiting] = []
        var held: [Held] = []
        for c in consultations {
            let since = c.times.queued ?? c.times.created
            if c.status.isWaiting {
                waiting.append(Waiting(id: c.id, department: c.department, priority: c.priority, skills: c.skills, since: since))
            } else if c.status.holdsAnAgent, let agent = c.assignee {
                held.append(
                    Held(
                        id: c.id, department: c.department, priority: c.priority, skills: c.skills, agent: agent, onHold: c.status == .onHold,
                        queuedSince: since))
            }
        }
        restore(waiting: waiting, held: held)
    }
}
