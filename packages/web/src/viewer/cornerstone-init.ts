import { init as initCore } from '@cornerstonejs/core';
import dicomImageLoader from '@cornerstonejs/dicom-image-loader';
import { AngleTool, LengthTool, PanTool, StackScrollTool, WindowLevelTool, ZoomTool, addTool, init as initTools } from '@cornerstonejs/tools';

/** The tools the viewer offers; registered once per page with Cornerstone's global tool registry. */
const VIEWER_TOOLS = [StackScrollTool, WindowLevelTool, ZoomTool, PanTool, LengthTool, AngleTool] as const;

export function initCornerstone(): void {
  initCore();
  // One decoder worker per two cores, at least one: decoding must not starve the page on small machines.
  dicomImageLoader.init({ maxWebWorkers: Math.max(1, Math.floor((navigator.hardwareConcurrency || 2) / 2)) });
  initTools();
  for (const Tool of VIEWER_TOOLS) addTool(Tool);
}
