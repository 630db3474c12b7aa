//! The query planner of Tarn's sessions: DataFusion's physical planner, with the
//! nodes Delta writes plan into (`tarn_catalog::extension_planner`) and Tarn's
//! SubPlans for the subqueries DataFusion cannot run (`crate::pg::subplans`).

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::Result;
use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{DefaultPhysicalPlanner, PhysicalPlanner};

use crate::pg::subplans;

#[derive(Debug)]
pub(crate) struct Planner;

#[async_trait]
impl QueryPlanner for Planner {
    async fn create_physical_plan(
        &self,
        plan: &LogicalPlan,
        session: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let planner = DefaultPhysicalPlanner::with_extension_planners(vec![
            tarn_catalog::extension_planner(),
            Arc::new(subplans::SubplanPlanner),
        ]);
        // Most plans have no subquery left: they are not copied to find out.
        if subplans::needed(plan) {
            let plan = subplans::rewrite(plan.clone())?;
            return planner.create_physical_plan(&plan, session).await;
        }
        planner.create_physical_plan(plan, session).await
    }
}
