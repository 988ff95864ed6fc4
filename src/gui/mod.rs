pub fn _x() {
    let _ = bevy::app::App::new();
    let _ = bevy_egui::EguiPlugin::default();
}
