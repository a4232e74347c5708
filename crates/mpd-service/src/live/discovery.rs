//! Schema discovery (event names, properties, values, funnels, cohorts, top events).
